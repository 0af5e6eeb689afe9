/**
 * Existing Passport strategies handed to the broker (`passportStrategies`): real packages
 * (@node-saml/passport-saml against the fake SAML IdP) and small strategies that end in each of
 * Passport's outcomes, driven by a cookie-keeping browser through `/auth`, the upstream and
 * `/callback/<id>`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Strategy as PassportSamlStrategy, ValidateInResponseTo, type Profile, type VerifiedCallback } from '@node-saml/passport-saml';
import type { Request } from 'express';
import type { Strategy as PassportStrategy } from 'passport';
import { Strategy } from 'passport-strategy';
import { startBroker, TEST_CLIENT, type TestBroker } from './helpers/broker.js';
import { cookieBrowser, type CookieBrowser } from './helpers/http.js';
import { FakeIdp, parseAutoPostForm } from './fakes/saml/idp.js';
import { makePki, type Pki } from './fakes/saml/pki.js';
import { authUrl, pkcePair } from './conformance/support.js';
import { login } from './helpers/rp.js';
import { answerInteractions, startOidcProvider, type RunningOidcProvider } from './servers/oidc-provider.js';
import { upstreamUsers } from './strategies/oidc/users.js';
// @ts-expect-error passport-openidconnect ships no type declarations
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';

const PUBLIC_CALLBACK = 'https://sp.test/dex/callback/okta';
const SP_ENTITY = 'urn:dexpress:handover';

let pki: Pki;
let idp: FakeIdp;
let broker: TestBroker;

/** What passport-saml hands to `success()` for Jane. */
const JANE = { nameID: 'jane@example.com', nameIDFormat: 'x', issuer: 'idp', attributes: { email: 'jane@example.com', name: 'Jane', groups: 'admins' }, email: 'jane@example.com', name: 'Jane' };

/**
 * A strategy that sends the browser to an upstream (`http://127.0.0.1:9/upstream`, never visited,
 * with an OAuth `state` unless `named` is false) and, on the answer at `/callback/<id>`, does what
 * the answer's `do` parameter says: one of Passport's outcomes, or a fault.
 */
class Scripted extends Strategy {
  constructor(private readonly named: boolean) {
    super();
  }
  override authenticate(req: Request): void | Promise<void> {
    if (!req.path.includes('/callback/')) {
      this.redirect(`http://127.0.0.1:9/upstream${this.named ? `?state=${Math.random().toString(36).slice(2)}` : ''}`);
      return;
    }
    switch (String(req.query.do)) {
      case 'success':
        return this.success(JANE);
      case 'twice':
        this.success(JANE);
        return this.fail('second call', 401);
      case 'pass':
        return this.pass();
      case 'fail':
        return this.fail({ message: 'Your account is <b>locked</b>.' }, 423);
      case 'fail500':
        return this.fail('upstream said no', 500);
      case 'error':
        return this.error(new Error('ECONNREFUSED 10.0.0.7:8443 at /srv/app/node_modules/x.js:1:2'));
      case 'throw':
        throw new TypeError("Cannot read properties of undefined (reading 'href')");
      case 'reject':
        return Promise.reject(new TypeError('an async verify callback failed'));
      default:
        return this.fail(401);
    }
  }
}

beforeAll(async () => {
  pki = makePki();
  idp = new FakeIdp({
    signer: pki.idp,
    audience: SP_ENTITY,
    mode: 'both',
    user: { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'], groups: ['admins'] } },
  });
  await idp.start();
  const verify = (profile: Profile | null, done: VerifiedCallback): void => done(null, profile ?? undefined);
  const okta = new PassportSamlStrategy(
    { entryPoint: idp.ssoURL, issuer: SP_ENTITY, callbackUrl: PUBLIC_CALLBACK, idpCert: pki.idp.cert, validateInResponseTo: ValidateInResponseTo.always },
    verify,
    verify,
  );
  const samlConfig = { ssoURL: idp.ssoURL, caData: pki.idp.cert, redirectURI: PUBLIC_CALLBACK, usernameAttr: 'name', emailAttr: 'email', groupsAttr: 'groups' };
  broker = await startBroker(
    {
      connectors: [
        { type: 'saml', id: 'okta', name: 'Okta', config: samlConfig },
        { type: 'saml', id: 'scripted', name: 'Scripted', config: samlConfig },
        { type: 'saml', id: 'vague', name: 'Vague', config: samlConfig },
      ],
    },
    // passport-saml 5 ships its own @types/express 4, so its Strategy type needs a cast under Express 5 types.
    { passportStrategies: { okta: okta as unknown as PassportStrategy, scripted: new Scripted(true), vague: new Scripted(false) } },
  );
});

afterAll(async () => {
  await broker?.close();
  await idp?.close();
  pki?.remove();
});

/** Starts a login with client state `state` in `who`, up to the IdP's answer: the form it auto-posts back. */
async function samlAnswer(who: CookieBrowser, state: string): Promise<Record<string, string>> {
  const start = await who.send(authUrl(broker.issuer, { connector_id: 'okta', state, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
  const toIdp = await who.send(new URL(start.location!, broker.issuer).toString());
  expect(toIdp.location).toMatch(new RegExp(`^${idp.ssoURL}\\?`));
  const atIdp = await fetch(toIdp.location!);
  const { action, fields } = parseAutoPostForm(await atIdp.text());
  expect(action).toBe(PUBLIC_CALLBACK);
  return fields;
}

/** Posts an IdP answer to the broker's callback for `okta` (the reverse proxy's job), and returns the client state it ends at. */
async function postAnswer(who: CookieBrowser, fields: Record<string, string>) {
  const res = await who.post(`${broker.issuer}/callback/okta`, fields);
  const location = res.location ? new URL(res.location) : undefined;
  return { status: res.status, body: res.body, state: location?.searchParams.get('state') ?? undefined, code: location?.searchParams.get('code') ?? undefined };
}

describe('two logins at once in one browser through the same handed-over strategy (tabs)', () => {
  test('each IdP answer finishes its own login, whichever comes back first', async () => {
    const tabs = cookieBrowser();
    const first = await samlAnswer(tabs, 'tab-1');
    const second = await samlAnswer(tabs, 'tab-2');
    const one = await postAnswer(tabs, first);
    expect(one).toMatchObject({ status: 303, state: 'tab-1' });
    expect(one.code).toBeDefined();
    const two = await postAnswer(tabs, second);
    expect(two).toMatchObject({ status: 303, state: 'tab-2' });
  });
});

/** Starts a login with client state `state` through connector `id` (a `Scripted` one) in `who`, up to its redirect upstream. */
async function startScripted(who: CookieBrowser, id: string, state = 'st'): Promise<void> {
  const start = await who.send(authUrl(broker.issuer, { connector_id: id, state, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
  const upstream = await who.send(new URL(start.location!, broker.issuer).toString());
  expect(upstream.location).toMatch(/^http:\/\/127\.0\.0\.1:9\/upstream/);
}

describe('two logins at once in one browser, continued', () => {
  test('the answers in the other order finish their own logins too', async () => {
    const tabs = cookieBrowser();
    const first = await samlAnswer(tabs, 'tab-1');
    const second = await samlAnswer(tabs, 'tab-2');
    expect(await postAnswer(tabs, second)).toMatchObject({ status: 303, state: 'tab-2' });
    expect(await postAnswer(tabs, first)).toMatchObject({ status: 303, state: 'tab-1' });
  });

  test('an OAuth answer whose state names no login in flight leaves the login in flight alone', async () => {
    const tab = cookieBrowser();
    await startScripted(tab, 'scripted', 'live');
    const stale = await tab.send(`${broker.issuer}/callback/scripted?state=from-an-older-login&do=fail`);
    expect(stale.status).toBe(400);
    expect(stale.body).toContain('Login expired');
    const real = await tab.send(`${broker.issuer}/callback/scripted?do=success`);
    // The only login in flight: its answer finishes it (a strategy need not echo the state it sent).
    expect(new URL(real.location!).searchParams.get('state')).toBe('live');
  });

  test('with a strategy whose answers say nothing of their login, a second login makes the answer ambiguous: refused, and a new login works', async () => {
    const tabs = cookieBrowser();
    await startScripted(tabs, 'vague', 'tab-1');
    await startScripted(tabs, 'vague', 'tab-2');
    const answer = await tabs.send(`${broker.issuer}/callback/vague?do=success`);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('Several logins in progress');
    await startScripted(tabs, 'vague', 'again');
    const again = await tabs.send(`${broker.issuer}/callback/vague?do=success`);
    expect(new URL(again.location!).searchParams.get('state')).toBe('again');
  });
});

describe("each of Passport's outcomes at the callback", () => {
  async function answerWith(action: string) {
    const tab = cookieBrowser();
    await startScripted(tab, 'scripted');
    return tab.send(`${broker.issuer}/callback/scripted?do=${action}`);
  }

  test('success twice (done called twice): the first call counts', async () => {
    const res = await answerWith('twice');
    expect(res.status).toBe(303);
    expect(res.location).toMatch(new RegExp(`^${TEST_CLIENT.redirectURI}\\?code=`));
  });

  test('pass: a 400 page, no code', async () => {
    const res = await answerWith('pass');
    expect(res.status).toBe(400);
    expect(res.body).toContain('did not complete the login');
  });

  test("fail(challenge, status): the challenge's message, escaped, with the 4xx status", async () => {
    const res = await answerWith('fail');
    expect(res.status).toBe(423);
    expect(res.body).toContain('Your account is &lt;b&gt;locked&lt;/b&gt;.');
  });

  test('fail with a 5xx status is still a refusal (403), not a server error', async () => {
    const res = await answerWith('fail500');
    expect(res.status).toBe(403);
    expect(res.body).toContain('upstream said no');
  });

  test.each(['error', 'throw'])('%s: a 502 page that shows nothing of the cause', async (action) => {
    const res = await answerWith(action);
    expect(res.status).toBe(502);
    expect(res.body).not.toMatch(/ECONNREFUSED|node_modules|href|TypeError/);
  });

  test('an async authenticate() that rejects ends the login with a 502 page at once (no hang, no unhandled rejection)', async () => {
    const res = await answerWith('reject');
    expect(res.status).toBe(502);
    expect(res.body).not.toContain('async verify');
  });
});

describe('refresh through a handed-over passport-openidconnect strategy (type oidc: refresh yes)', () => {
  let op: RunningOidcProvider;
  let oidcBroker: TestBroker;
  beforeAll(async () => {
    const legacy = { client_id: 'legacy', client_secret: 'legacy-secret', redirect_uris: ['http://127.0.0.1/dex/callback/legacy'], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post', application_type: 'native' };
    op = await startOidcProvider({ users: structuredClone(upstreamUsers), redirectURIs: ['http://127.0.0.1/dex/callback'], extraClients: [legacy] });
    const strategy = new OpenIDConnectStrategy(
      { issuer: op.issuer, authorizationURL: `${op.issuer}/auth`, tokenURL: `${op.issuer}/token`, userInfoURL: `${op.issuer}/me`, clientID: 'legacy', clientSecret: 'legacy-secret', callbackURL: '/dex/callback/legacy', scope: ['profile', 'email'] },
      // The nine-argument verify: the userinfo profile (its _json has email_verified), no refresh token.
      (_iss: string, uiProfile: unknown, _id: unknown, _ctx: unknown, _idt: string, _at: string, _rt: string, _p: unknown, done: (e: unknown, u?: unknown) => void) => done(null, uiProfile),
    );
    oidcBroker = await startBroker(
      { connectors: [{ type: 'oidc', id: 'legacy', name: 'Legacy OP', config: { issuer: op.issuer, clientID: 'legacy', clientSecret: 'legacy-secret', scopes: ['profile', 'email'] } }] },
      { passportStrategies: { legacy: strategy } },
    );
  });
  afterAll(async () => {
    await oidcBroker?.close();
    await op?.close();
  });

  test('offline_access: no refresh token is issued when the strategy handed over none (it could never be redeemed)', async () => {
    const { tokens, claims } = await login(oidcBroker.issuer, { connectorId: 'legacy', onPage: answerInteractions(op.issuer, 'alice'), scope: 'openid email offline_access' });
    expect(claims).toMatchObject({ email: 'alice@example.org', email_verified: true });
    expect(tokens.refresh_token).toBeUndefined();
  });
});

export { TEST_CLIENT };
