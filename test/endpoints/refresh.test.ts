/** Refresh tokens: rotation, the reuse window, replay revocation, lifetimes, scope narrowing. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ConnectorModule } from '../../lib/connector.js';
import { createRegistry } from '../../lib/connector.js';
import { RefreshFailedError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { connectorModules } from '../../strategies/index.js';
import { mockCallback, kilgoreTrout } from '../../strategies/mockCallback/index.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { login, verifyIdToken } from '../helpers/rp.js';

/**
 * A mockCallback whose upstream answer the test controls. With `rotating` set it behaves like
 * GitLab: each upstream refresh token (here the connector data) works once, and the upstream
 * takes `rotating.delayMs` to answer a refresh it accepts.
 */
const upstream: { identity: Identity | Error; rotating?: { used: Set<string>; delayMs: number; refuseAfterMs?: number } } = { identity: kilgoreTrout };
const controllable = {
  ...mockCallback,
  create: () => ({
    ...mockCallback.create(),
    refresh: async (previous: Identity) => {
      if (upstream.identity instanceof Error) throw upstream.identity;
      const { rotating } = upstream;
      if (rotating) {
        const presented = JSON.stringify(previous.connectorData ?? null);
        if (rotating.used.has(presented)) {
          await new Promise((resolve) => setTimeout(resolve, rotating.refuseAfterMs ?? 0));
          throw new RefreshFailedError('invalid_grant: the upstream refresh token was already used');
        }
        rotating.used.add(presented);
        await new Promise((resolve) => setTimeout(resolve, rotating.delayMs));
        return { ...upstream.identity, connectorData: { upstreamToken: randomUUID() } };
      }
      return { ...upstream.identity, connectorData: { seen: previous.connectorData ?? null } };
    },
  }),
} satisfies ConnectorModule<Record<string, never>>;

const clock = frozenClock(Date.now());
let b: TestBroker;
const OTHER = { id: 'other-app', secret: 'other-secret', redirectURI: 'http://127.0.0.1:5556/cb' };

beforeAll(async () => {
  b = await startBroker(
    {
      connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
      staticClients: [
        { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI] },
        { id: OTHER.id, secret: OTHER.secret, redirectURIs: [OTHER.redirectURI] },
      ],
      expiry: { refreshTokens: { reuseInterval: '3s', validIfNotUsedFor: '1h', absoluteLifetime: '24h' } },
    },
    { now: clock, registry: createRegistry([...connectorModules.filter((m) => m.type !== 'mockCallback'), controllable]) },
  );
});
afterAll(() => b.close());

const refresh = (token: string, extra: Record<string, string> = {}, auth = basicAuth()) =>
  postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: token, ...extra }, auth);

async function freshRefreshToken(scope = 'openid email groups profile offline_access'): Promise<string> {
  upstream.identity = kilgoreTrout;
  delete upstream.rotating;
  const { tokens } = await login(b.issuer, { connectorId: 'mock', scope });
  return tokens.refresh_token!;
}

describe('refresh_token grant', () => {
  test('the new claims from the connector replace the old ones', async () => {
    const token = await freshRefreshToken();
    upstream.identity = { ...kilgoreTrout, email: 'kilgore@new.example', groups: ['authors', 'editors'] };
    const res = await refresh(token);
    expect(res.status).toBe(200);
    const claims = await verifyIdToken(b.issuer, res.body.id_token as string);
    expect(claims).toMatchObject({ email: 'kilgore@new.example', groups: ['authors', 'editors'] });
  });

  test('within the reuse window, the previous token yields the same new token', async () => {
    const token = await freshRefreshToken();
    const first = await refresh(token);
    clock.advance(1000);
    const again = await refresh(token);
    expect(again.status).toBe(200);
    expect(again.body.refresh_token).toBe(first.body.refresh_token);
  });

  test('concurrent refreshes with one token all succeed with one new token', async () => {
    const token = await freshRefreshToken();
    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(token)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.body.refresh_token)).size).toBe(1);
  });

  test('the previous token after the window revokes the chain', async () => {
    const token = await freshRefreshToken();
    const first = await refresh(token);
    clock.advance(4000);
    const replay = await refresh(token);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await refresh(first.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });

  test('another client cannot use the token', async () => {
    const token = await freshRefreshToken();
    const res = await refresh(token, {}, basicAuth(OTHER.id, OTHER.secret));
    expect(res.body.error).toBe('invalid_grant');
    expect((await refresh(token)).status).toBe(200);
  });

  test('scope may narrow, never widen', async () => {
    const token = await freshRefreshToken('openid email offline_access');
    const narrow = await refresh(token, { scope: 'openid' });
    expect(narrow.status).toBe(200);
    const claims = await verifyIdToken(b.issuer, narrow.body.id_token as string);
    expect(claims.email).toBeUndefined();
    const wide = await refresh(narrow.body.refresh_token as string, { scope: 'openid groups' });
    expect(wide.body.error).toBe('invalid_scope');
  });

  test('a failed upstream refresh is invalid_grant, not a 500, and the token stays unrotated', async () => {
    const token = await freshRefreshToken();
    upstream.identity = new RefreshFailedError('user was removed upstream');
    const res = await refresh(token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    upstream.identity = new Error('socket hang up');
    expect((await refresh(token)).body.error).toBe('invalid_grant');
  });

  describe('an upstream that rotates its own refresh token (as GitLab does)', () => {
    test('two concurrent refreshes both succeed with one new token, whichever order the upstream answers in', async () => {
      // delayMs 0: the loser's refusal comes after the winner stored its answer; 100: before it.
      for (const delayMs of [0, 100]) {
        const token = await freshRefreshToken();
        upstream.rotating = { used: new Set(), delayMs };
        const results = await Promise.all([refresh(token), refresh(token)]);
        expect(results.map((r) => [r.status, r.body.error])).toEqual([
          [200, undefined],
          [200, undefined],
        ]);
        expect(results[0]!.body.refresh_token).toBe(results[1]!.body.refresh_token);
        expect(upstream.rotating.used.size).toBe(1); // the upstream was asked with one token only
        // The rotated token carries the upstream's new token: the next refresh works.
        const next = await refresh(results[0]!.body.refresh_token as string);
        expect(next.status).toBe(200);
      }
    });

    test('a refusal with no concurrent refresh is still invalid_grant, and the token stays unrotated', async () => {
      const token = await freshRefreshToken();
      const first = await refresh(token);
      expect(first.status).toBe(200);
      // The upstream token behind `first` is marked used, as if revoked upstream (this broker
      // has no connectorDataKey, so the stored connector data is the connector's own).
      const stored = await b.broker.storage.find<{ connectorData?: unknown; tokenHash: string }>('refreshToken', token.split('.')[0]!);
      upstream.rotating = { used: new Set([JSON.stringify(stored!.value.connectorData ?? null)]), delayMs: 0 };
      const refused = await refresh(first.body.refresh_token as string);
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_grant']);
      const after = await b.broker.storage.find<{ tokenHash: string }>('refreshToken', token.split('.')[0]!);
      expect(after!.value.tokenHash).toBe(stored!.value.tokenHash);
    });
  });

  test('the connector sees its private state from the login', async () => {
    const token = await freshRefreshToken();
    upstream.identity = kilgoreTrout;
    expect((await refresh(token)).status).toBe(200);
  });

  test('unused for longer than validIfNotUsedFor: expired', async () => {
    const token = await freshRefreshToken();
    clock.advance(61 * 60_000);
    expect((await refresh(token)).body.error).toBe('invalid_grant');
  });

  test('used regularly, it still ends at absoluteLifetime', async () => {
    let token = await freshRefreshToken();
    const step = 50 * 60_000;
    const lifetime = 24 * 3_600_000;
    let elapsed = 0;
    for (; elapsed + step < lifetime; elapsed += step) {
      clock.advance(step);
      const res = await refresh(token);
      expect(res.status).toBe(200);
      token = res.body.refresh_token as string;
    }
    clock.advance(lifetime - elapsed + 60_000);
    expect((await refresh(token)).body.error).toBe('invalid_grant');
  });

  test('malformed and unknown tokens are invalid_grant', async () => {
    for (const t of ['', 'x', 'a.b', `${'A'.repeat(22)}.${'B'.repeat(43)}`]) {
      const res = await refresh(t);
      expect(res.status).toBe(400);
      expect(['invalid_grant', 'invalid_request']).toContain(res.body.error);
    }
  });

  test('refresh tokens are stored hashed', async () => {
    const token = await freshRefreshToken();
    const [id, secret] = token.split('.');
    const rec = await b.broker.storage.find<Record<string, unknown>>('refreshToken', id!);
    expect(JSON.stringify(rec)).not.toContain(secret);
  });
});

test('an upstream that cannot be reached is 503 temporarily_unavailable, and the token still works afterwards', async () => {
  const { UpstreamError } = await import('../../lib/errors.js');
  const token = await freshRefreshToken();
  upstream.identity = new UpstreamError('https://idp.example/token could not be reached');
  const res = await refresh(token);
  expect(res.status).toBe(503);
  expect(res.body.error).toBe('temporarily_unavailable');
  // The upstream's URL and answer stay in the log, not in the client's error_description.
  expect(res.body.error_description).toMatch(/cannot be reached or is misconfigured/);
  expect(res.body.error_description).not.toContain('idp.example');
  upstream.identity = kilgoreTrout;
  expect((await refresh(token)).status).toBe(200);
});

describe('with no reuse window (reuseInterval: 0s), an upstream that rotates its refresh tokens', () => {
  let strict: TestBroker;
  beforeAll(async () => {
    strict = await startBroker(
      { connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }], expiry: { refreshTokens: { reuseInterval: '0s' } } },
      { registry: createRegistry([...connectorModules.filter((m) => m.type !== 'mockCallback'), controllable]) },
    );
  });
  afterAll(() => strict.close());

  test('the loser of two concurrent refreshes gets invalid_grant, and the chain the winner rotated stays valid (losing a race is not a replay)', async () => {
    upstream.identity = kilgoreTrout;
    delete upstream.rotating;
    const { tokens } = await login(strict.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    // The winner's upstream answer takes 50 ms; the loser's refusal comes after the winner stored it.
    upstream.rotating = { used: new Set(), delayMs: 50, refuseAfterMs: 100 };
    const at = (t: string) => postForm(`${strict.issuer}/token`, { grant_type: 'refresh_token', refresh_token: t }, basicAuth());
    const results = await Promise.all([at(tokens.refresh_token!), at(tokens.refresh_token!)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    const winner = results.find((r) => r.status === 200)!;
    const next = await at(winner.body.refresh_token as string);
    expect(next.status).toBe(200);
  });
});
