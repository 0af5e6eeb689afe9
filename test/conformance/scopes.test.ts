/**
 * Basic OP plan, oidcc-scope-profile, oidcc-scope-email, oidcc-scope-all and
 * oidcc-ensure-other-scope-order-succeeds (OIDC Core 5.4): each scope brings its claims, in the
 * ID token and at userinfo, and nothing else. Deliberate difference: like Dex, the broker refuses
 * scopes it does not know (`address`, `phone`) with invalid_scope instead of ignoring them; it does
 * not list them in scopes_supported, so the plan skips oidcc-scope-address and oidcc-scope-phone.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import type { TestBroker } from '../helpers/broker.js';
import { getPage } from '../helpers/http.js';
import { login } from '../helpers/rp.js';
import { authUrl, startConformanceBroker } from './support.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startConformanceBroker();
});
afterAll(() => b.close());

const IDENTITY_CLAIMS = ['email', 'email_verified', 'name', 'preferred_username', 'groups', 'federated_claims'];

/** The identity claims (beyond sub) of the ID token and of userinfo for one login. */
async function claimsFor(scope: string): Promise<{ idToken: Record<string, unknown>; userinfo: Record<string, unknown> }> {
  const { config, tokens, claims } = await login(b.issuer, { connectorId: 'mock', scope });
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub!);
  const pick = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => IDENTITY_CLAIMS.includes(k)));
  return { idToken: pick(claims), userinfo: pick(info) };
}

describe('scopes', () => {
  test('profile: name and preferred_username, no email', async () => {
    const { idToken, userinfo } = await claimsFor('openid profile');
    expect(idToken).toEqual({ name: 'Kilgore Trout', preferred_username: 'kilgore' });
    expect(userinfo).toEqual(idToken);
  });

  test('email: email and email_verified, no profile claims', async () => {
    const { idToken, userinfo } = await claimsFor('openid email');
    expect(idToken).toEqual({ email: 'kilgore@kilgore.trout', email_verified: true });
    expect(userinfo).toEqual(idToken);
  });

  test('every scope in scopes_supported at once: every claim', async () => {
    const meta = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] };
    const { idToken, userinfo } = await claimsFor(meta.scopes_supported.join(' '));
    expect(idToken).toEqual({
      email: 'kilgore@kilgore.trout',
      email_verified: true,
      name: 'Kilgore Trout',
      preferred_username: 'kilgore',
      groups: ['authors'],
      federated_claims: { connector_id: 'mock', user_id: '0-385-28089-0' },
    });
    expect(userinfo).toEqual(idToken);
  });

  test('openid need not come first', async () => {
    const { idToken } = await claimsFor('email openid');
    expect(idToken.email).toBe('kilgore@kilgore.trout');
  });

  test.each(['address', 'phone'])('%s is not in scopes_supported and is refused with invalid_scope (as in Dex)', async (scope) => {
    const meta = (await (await fetch(`${b.issuer}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] };
    expect(meta.scopes_supported).not.toContain(scope);
    const res = await getPage(authUrl(b.issuer, { scope: `openid ${scope}` }));
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_scope');
  });
});
