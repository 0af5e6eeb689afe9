/**
 * The device authorization grant (RFC 8628) as Dex serves it to kubectl and CLIs: openid-client's
 * device functions on the device side, the test browser typing the user code on the other.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { connectorHref, DEVICE_GRANT, enterUserCode, pollOnce } from '../helpers/device.js';
import { getPage, leaksNothing, postForm } from '../helpers/http.js';
import { discover, startLogin, verifyIdToken } from '../helpers/rp.js';

const KUBECTL = { id: 'kubectl', redirectURI: '' };
const clock = frozenClock(Date.now());
let b: TestBroker;

const kubectlClient = { id: 'kubectl', public: true, name: 'Kubernetes' };
const connectors = [
  { type: 'mockCallback', id: 'mock', name: 'Example' },
  { type: 'mockPassword', id: 'mockpw', name: 'Mock password', config: { username: 'kilgore', password: 'trout' } },
  { type: 'mockCallback', id: 'web-only', name: 'Web only', grantTypes: ['authorization_code'] },
];

beforeAll(async () => {
  b = await startBroker(
    (issuer) => ({
      connectors,
      oauth2: { skipApprovalScreen: false },
      staticClients: [
        { id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' },
        kubectlClient,
      ],
      frontend: { issuer: `Test broker at ${new URL(issuer).host}` },
    }),
    { now: clock },
  );
});
afterAll(() => b.close());

async function kubectl(): Promise<oidc.Configuration> {
  return discover(b.issuer, KUBECTL);
}

/** Starts a device authorization for kubectl; `interval: 0` lets openid-client poll at once (the broker's clock is frozen). */
async function startDevice(scope = 'openid email groups profile offline_access', config?: oidc.Configuration): Promise<oidc.DeviceAuthorizationResponse> {
  return oidc.initiateDeviceAuthorization(config ?? (await kubectl()), { scope });
}

async function rejection(promise: Promise<unknown>): Promise<oidc.ResponseBodyError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(oidc.ResponseBodyError);
  return err as oidc.ResponseBodyError;
}

describe('POST /device/code', () => {
  test('discovery names the device endpoint and the grant', async () => {
    const config = await kubectl();
    expect(config.serverMetadata().device_authorization_endpoint).toBe(`${b.issuer}/device/code`);
    expect(config.serverMetadata().grant_types_supported).toContain(DEVICE_GRANT);
  });

  test('answers a Dex-style user code, the verification URIs, 5 minutes and 5 seconds', async () => {
    const res = await startDevice();
    expect(res.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(res.device_code.length).toBeGreaterThanOrEqual(40);
    expect(res.verification_uri).toBe(`${b.issuer}/device`);
    expect(res.verification_uri_complete).toBe(`${b.issuer}/device?user_code=${res.user_code}`);
    expect(res.expires_in).toBe(300);
    expect(res.interval).toBe(5);
  });

  test('a confidential client must authenticate', async () => {
    const res = await postForm(`${b.issuer}/device/code`, { client_id: TEST_CLIENT.id, client_secret: 'wrong', scope: 'openid' });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'invalid_client' });
  });

  test('an unknown scope is invalid_scope, as JSON', async () => {
    const res = await postForm(`${b.issuer}/device/code`, { client_id: 'kubectl', scope: 'openid admin' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_scope' });
  });
});

describe('the browser side', () => {
  test('GET /device shows the code form, prefilled from verification_uri_complete and escaped', async () => {
    const page = await getPage(`${b.issuer}/device?user_code=${encodeURIComponent('"><script>x</script>')}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="user_code"');
    expect(page.body).not.toContain('<script>x');
    expect(page.body).toContain('&quot;&gt;&lt;script&gt;');
  });

  test('a wrong user code is refused with a clear message and nothing starts', async () => {
    const res = await startDevice();
    const wrong = res.user_code === 'BBBB-BBBB' ? 'CCCC-CCCC' : 'BBBB-BBBB';
    const result = await enterUserCode(res.verification_uri, { typed: [wrong] });
    expect(result.page?.status).toBe(400);
    expect(result.page?.body).toContain('This code is wrong or has expired');
    expect(result.page?.body).toContain('name="user_code"');
    expect((await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl' })).body.error).toBe('authorization_pending');
  });

  test('a code typed in lower case without its dash is accepted', async () => {
    const res = await startDevice('openid');
    const result = await enterUserCode(res.verification_uri, { typed: [res.user_code.replace('-', '').toLowerCase()] });
    expect(result.page?.status).toBe(200);
    expect(result.page?.body).toContain('Login successful for Kubernetes');
  });

  test('the connector list offers only connectors whose grantTypes allow the device grant', async () => {
    const res = await startDevice('openid');
    const list = (await enterUserCode(res.verification_uri_complete!, { connectorName: 'Nothing' })).page!;
    expect(list.body).toContain('Log in with Example');
    expect(list.body).toContain('Log in with Mock password');
    expect(list.body).not.toContain('Web only');
  });

  test('a device login cannot be steered to a connector the list did not offer', async () => {
    const res = await startDevice('openid');
    const refused = await enterUserCode(res.verification_uri_complete!, {
      onPage: async (page) => {
        const href = connectorHref(page, 'Example');
        return href ? { url: href.replace('/device/login/mock?', '/device/login/web-only?') } : undefined;
      },
    });
    expect(refused.page?.status).toBe(400);
    expect(refused.page?.body).toContain('may not use this login method');
  });

  test('the callback refuses a login started in another browser', async () => {
    const page = await getPage(`${b.issuer}/device/callback?state=someone-elses&code=abc`);
    expect(page.status).toBe(400);
    expect(page.body).toContain('started in another browser');
    expect(leaksNothing(page.body)).toBe(true);
  });

  test('the device callback is not a redirect URI a client can ask /auth for', async () => {
    const page = await getPage(`${b.issuer}/auth?client_id=${TEST_CLIENT.id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(`${b.issuer}/device/callback`)}`);
    expect(page.status).toBe(400);
    expect(page.body).toContain('Unregistered redirect URI');
  });
});

describe('polling /token', () => {
  test('kubectl (public client) gets Dex tokens with a refresh token after the user approves', async () => {
    const config = await kubectl();
    const res = await startDevice(undefined, config);
    expect((await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl' })).body).toMatchObject({ error: 'authorization_pending' });
    const page = (await enterUserCode(res.verification_uri_complete!)).page!;
    expect(page.status).toBe(200);
    expect(page.body).toContain('Login successful for Kubernetes');
    clock.advance(5_000);
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 });
    const claims = await verifyIdToken(b.issuer, tokens.id_token!, 'kubectl');
    expect(claims).toMatchObject({ iss: b.issuer, aud: 'kubectl', sub: 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr', email: 'kilgore@kilgore.trout', groups: ['authors'] });
    expect(typeof tokens.refresh_token).toBe('string');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeDefined();
  });

  test('no refresh token without offline_access', async () => {
    const config = await kubectl();
    const res = await startDevice('openid email', config);
    await enterUserCode(res.verification_uri_complete!);
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 });
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeDefined();
  });

  test('a confidential client polls with its secret, and a password connector works too', async () => {
    const config = await discover(b.issuer);
    const res = await startDevice('openid email', config);
    const page = (await enterUserCode(res.verification_uri_complete!, { connectorName: 'Mock password', password: { username: 'kilgore', password: 'trout' } })).page!;
    expect(page.body).toContain('Login successful for Example App');
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 });
    expect((await verifyIdToken(b.issuer, tokens.id_token!)).email).toBe('kilgore@kilgore.trout');
  });

  test('polling faster than the interval is slow_down, and the interval grows by 5 s', async () => {
    const res = await startDevice();
    const poll = () => pollOnce(b.issuer, res.device_code, { client_id: 'kubectl' });
    expect((await poll()).body.error).toBe('authorization_pending');
    expect((await poll()).body.error).toBe('slow_down');
    clock.advance(5_000);
    expect((await poll()).body.error).toBe('slow_down');
    clock.advance(15_000);
    expect((await poll()).body.error).toBe('authorization_pending');
  });

  test('after expires_in the device hears expired_token and the code is refused in the browser', async () => {
    const config = await kubectl();
    const res = await startDevice(undefined, config);
    clock.advance(300_001);
    const err = await rejection(oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 }));
    expect(err.error).toBe('expired_token');
    const page = (await enterUserCode(res.verification_uri_complete!)).page!;
    expect(page.status).toBe(400);
    expect(page.body).toContain('wrong or has expired');
  });

  test('a user who cancels on the approval page denies the device: access_denied', async () => {
    const config = await kubectl();
    const res = await startDevice(undefined, config);
    const page = (await enterUserCode(res.verification_uri_complete!, { approve: false })).page!;
    expect(page.body).toContain('Access refused');
    const err = await rejection(oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 }));
    expect(err.error).toBe('access_denied');
  });

  test('the approval page warns that a device is asking (RFC 8628 section 5.4), and not in a browser login', async () => {
    const res = await startDevice('openid');
    let approval = '';
    await enterUserCode(res.verification_uri_complete!, {
      onPage: async (page) => {
        if (page.body.includes('name="approval"')) approval = page.body;
        return undefined;
      },
    });
    expect(approval).toContain('a code shown by a device');
    let browserApproval = '';
    await startLogin(b.issuer, {
      connectorId: 'mock',
      params: { code_challenge: 'd'.repeat(43), code_challenge_method: 'S256' },
      onPage: async (page) => {
        if (page.body.includes('name="approval"')) browserApproval = page.body;
        return undefined;
      },
    });
    expect(browserApproval).toContain('Grant access');
    expect(browserApproval).not.toContain('a code shown by a device');
  });

  test('a user code works once: typed again after the login it is refused', async () => {
    const res = await startDevice('openid');
    await enterUserCode(res.verification_uri_complete!);
    const again = (await enterUserCode(res.verification_uri_complete!)).page!;
    expect(again.status).toBe(400);
    expect(again.body).toContain('wrong or has expired');
  });

  test('exactly one token response per device code, even to concurrent polls', async () => {
    const res = await startDevice('openid offline_access');
    await enterUserCode(res.verification_uri_complete!);
    const answers = await Promise.all([1, 2, 3].map(() => pollOnce(b.issuer, res.device_code, { client_id: 'kubectl' })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400).map((a) => a.body.error)).toEqual(['invalid_grant', 'invalid_grant']);
    expect((await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl' })).body.error).toBe('invalid_grant');
  });

  test('another client cannot collect the tokens of a device code', async () => {
    const res = await startDevice('openid');
    await enterUserCode(res.verification_uri_complete!);
    const stolen = await pollOnce(b.issuer, res.device_code, { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret });
    expect(stolen.body.error).toBe('invalid_grant');
    expect((await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl' })).status).toBe(200);
  });

  test('PKCE: a device code asked for with a challenge needs the verifier', async () => {
    const config = await kubectl();
    const verifier = oidc.randomPKCECodeVerifier();
    const res = await oidc.initiateDeviceAuthorization(config, { scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await enterUserCode(res.verification_uri_complete!);
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 }, { code_verifier: verifier });
    expect(tokens.id_token).toBeDefined();
  });

  test('PKCE: polling without the verifier is invalid_grant', async () => {
    const config = await kubectl();
    const res = await oidc.initiateDeviceAuthorization(config, { scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    await enterUserCode(res.verification_uri_complete!);
    const err = await rejection(oidc.pollDeviceAuthorizationGrant(config, { ...res, interval: 0 }));
    expect(err.error).toBe('invalid_grant');
  });

  test('PKCE: a wrong verifier is refused without burning the code; the right one collects once', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const res = await oidc.initiateDeviceAuthorization(await kubectl(), { scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await enterUserCode(res.verification_uri_complete!);
    const wrong = await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl', code_verifier: oidc.randomPKCECodeVerifier() });
    expect(wrong.body).toMatchObject({ error: 'invalid_grant', error_description: 'Invalid code_verifier.' });
    expect((await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl', code_verifier: verifier })).status).toBe(200);
    expect((await pollOnce(b.issuer, res.device_code, { client_id: 'kubectl', code_verifier: verifier })).body.error).toBe('invalid_grant');
  });
});

describe('wrong codes are bounded per address', () => {
  const lockClock = frozenClock(Date.now());
  let locked: TestBroker;
  beforeAll(async () => {
    locked = await startBroker({ connectors: [connectors[0]], staticClients: [kubectlClient] }, { now: lockClock });
  });
  afterAll(() => locked.close());

  test('after 10 wrong codes even the right one is refused until the window ends', async () => {
    const res = await oidc.initiateDeviceAuthorization(await discover(locked.issuer, KUBECTL), { scope: 'openid' });
    const wrong = Array.from({ length: 10 }, (_, i) => `BBBB-BBB${'CDFGHJKLMN'[i]}`);
    const tenWrong = await enterUserCode(res.verification_uri, { typed: wrong, maxSteps: 30 });
    expect(tenWrong.page?.status).toBe(400);
    const blocked = (await enterUserCode(res.verification_uri, { typed: [res.user_code] })).page!;
    expect(blocked.status).toBe(429);
    expect(blocked.body).toContain('Too many wrong codes');
    expect(Number(blocked.headers.get('retry-after'))).toBe(15 * 60);
    lockClock.advance(15 * 60_000 + 1);
    const late = await oidc.initiateDeviceAuthorization(await discover(locked.issuer, KUBECTL), { scope: 'openid' });
    const page = (await enterUserCode(late.verification_uri_complete!)).page!;
    expect(page.body).toContain('Login successful for Kubernetes');
  });
});

describe('oauth2.grantTypes without the device grant', () => {
  let off: TestBroker;
  beforeAll(async () => {
    off = await startBroker({ connectors: [connectors[0]], staticClients: [kubectlClient], oauth2: { grantTypes: ['authorization_code', 'refresh_token'], skipApprovalScreen: true } });
  });
  afterAll(() => off.close());

  test('discovery has no device endpoint and /device/code refuses', async () => {
    const doc = (await (await fetch(`${off.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.device_authorization_endpoint).toBeUndefined();
    expect(doc.grant_types_supported).not.toContain(DEVICE_GRANT);
    const res = await postForm(`${off.issuer}/device/code`, { client_id: 'kubectl', scope: 'openid' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'unsupported_grant_type' });
    expect((await getPage(`${off.issuer}/device`)).status).toBe(404);
  });
});
