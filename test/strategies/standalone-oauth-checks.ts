/**
 * What every OAuth 2.0 strategy used alone with Passport must do, whatever its upstream: a login
 * through the fake upstream ends with req.user the mapped Identity, kept in the session; a
 * forged, missing or other browser's state fails before the code is redeemed; the user refusing
 * upstream and a code the token endpoint refuses are Passport failures (no stack trace, nothing
 * reaching the error middleware, no one logged in); the token endpoint failing reaches the app
 * as an UpstreamError (502), not a login.
 *
 * A connector's standalone test calls `testStandaloneOAuthLogin` inside its describe, with its
 * app and fake started in its own beforeAll, and adds the tests only it needs (what it asks
 * upstream, its own refusals).
 */
import { beforeEach, expect, test } from '@jest/globals';
import { UpstreamError } from '../../lib/errors.js';
import type { Fault } from '../fakes/platform.js';
import { keptIdentity, oauthLogin, passportFailure, refusalOf, startOAuthLogin, whoAmI, type Refusal, type StandaloneApp } from './standalone-app.js';
import { cookieBrowser } from '../helpers/http.js';

/** The part of a fake authorization server these checks drive (OAuthFake and the OIDC FakeIdp both have it). */
export interface FakeAuthorizationServer {
  /** Who the authorization endpoint approves as; undefined: the user refuses (access_denied). */
  approveAs: string | undefined;
  /** Code grants the token endpoint has answered (refused ones too). */
  readonly counts: { codeGrants: number };
  /** Answers a path with a fault until `clearFaults()` (OAuthFake only). */
  fail?(path: string, fault: Fault): void;
  clearFaults?(): void;
}

export interface StandaloneOAuthConnector {
  /** The upstream as test names call it: 'GitLab', 'the cluster'. */
  upstream: string;
  /** The app and the fake, once the test file's beforeAll has started them. */
  app: () => StandaloneApp;
  fake: () => FakeAuthorizationServer;
  /** A user the fake approves as, who may log in. */
  user: string;
  /** The Identity a login as `user` gives (as the app shows it), and what the test name says it is made of. */
  identity: Record<string, unknown>;
  identityFrom: string;
  /** What the session keeps besides the shown Identity (upstream tokens); none when omitted. */
  connectorData?: unknown;
  /** How the strategy refuses a callback whose state is not the one in the session, and one without state. */
  stateMismatch: Refusal;
  /** How it refuses a code its token endpoint answers with an OAuth error. */
  refusedCode: Refusal;
  /** The token endpoint's path, to make it fail; omitted when the fake cannot (the OIDC FakeIdp). */
  tokenPath?: string;
}

export function testStandaloneOAuthLogin(c: StandaloneOAuthConnector): void {
  beforeEach(() => {
    c.fake().approveAs = c.user;
    c.fake().clearFaults?.();
    c.app().errors.length = 0;
  });

  test(`a login ends with req.user the Identity ${c.upstream} maps (${c.identityFrom}), kept in the session`, async () => {
    const { browser, answer } = await oauthLogin(c.app());
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(c.identity);
    expect(await whoAmI(c.app(), browser)).toEqual({ status: 200, body: c.identity });
    expect(await keptIdentity(c.app(), browser)).toEqual({ ...c.identity, connectorData: c.connectorData });
  });

  test('a callback with a forged state fails before the code is redeemed, and uses up the login it came back for', async () => {
    const redeemed = c.fake().counts.codeGrants;
    const { browser, callback, answer } = await oauthLogin(c.app(), (p) => p.set('state', 'forged'));
    expect(await refusalOf(c.app(), browser, answer)).toEqual(c.stateMismatch);
    expect(c.fake().counts.codeGrants).toBe(redeemed);
    const genuine = await browser.send(callback.toString());
    expect(genuine.status).toBe(400);
    expect((await whoAmI(c.app(), browser)).status).toBe(401);
    expect(c.app().errors).toEqual([]);
  });

  test('a callback without state fails before the code is redeemed', async () => {
    const redeemed = c.fake().counts.codeGrants;
    const { browser, answer } = await oauthLogin(c.app(), (p) => p.delete('state'));
    expect(await refusalOf(c.app(), browser, answer)).toEqual(c.stateMismatch);
    expect(c.fake().counts.codeGrants).toBe(redeemed);
    expect(c.app().errors).toEqual([]);
  });

  test("another browser's callback (its state and code) fails in this one before the code is redeemed; the browser that started the login still logs in", async () => {
    const { browser: starter, callback } = await startOAuthLogin(c.app());
    const redeemed = c.fake().counts.codeGrants;
    const other = cookieBrowser();
    const answer = await other.send(callback.toString());
    expect(await refusalOf(c.app(), other, answer)).toEqual(passportFailure(400, /expired/));
    expect(c.fake().counts.codeGrants).toBe(redeemed);
    expect((await starter.send(callback.toString())).status).toBe(200);
    expect(c.app().errors).toEqual([]);
  });

  test(`the user refusing at ${c.upstream} (error=access_denied) is a 403 failure, not an error`, async () => {
    c.fake().approveAs = undefined;
    const { browser, callback, answer } = await oauthLogin(c.app());
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(await refusalOf(c.app(), browser, answer)).toEqual(passportFailure(403, /cancelled or refused/));
    expect(c.app().errors).toEqual([]);
  });

  test(`a code ${c.upstream} refuses at its token endpoint is a failure without a stack trace, not an error`, async () => {
    const { browser, answer } = await oauthLogin(c.app(), (p) => p.set('code', 'not-a-code'));
    expect(await refusalOf(c.app(), browser, answer)).toEqual(c.refusedCode);
    expect(c.app().errors).toEqual([]);
  });

  const { tokenPath } = c;
  if (tokenPath === undefined) return;
  test(`${c.upstream}'s token endpoint failing reaches the app's error middleware as an UpstreamError (502), not a login`, async () => {
    const fake = c.fake();
    if (!fake.fail) throw new Error(`the fake of ${c.upstream} cannot fail ${tokenPath}`);
    fake.fail(tokenPath, { status: 503 });
    const { browser, answer } = await oauthLogin(c.app());
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body)).toEqual({ error: 'upstream_error' });
    expect(c.app().errors).toHaveLength(1);
    expect(c.app().errors[0]).toBeInstanceOf(UpstreamError);
    expect((await whoAmI(c.app(), browser)).status).toBe(401);
  });
}
