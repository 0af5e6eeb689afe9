/**
 * OAuth 2.0 security practice (RFC 9700) and Dex's advisories, swept across the broker rather
 * than tried on one example each: every page refuses framing and caching, every token response
 * is not cached, the password form's CSRF token and the approval HMAC only work for their own
 * auth request, and brute-force counting cannot be dodged by rewriting the username or spreading
 * the attempts over usernames; failed logins are logged without the password.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createBroker, type Broker } from '../../lib/broker.js';
import { throttleUsername } from '../../lib/throttle.js';
import { connectors } from '../../strategies/index.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { basicAuth, getPage, postForm } from '../helpers/http.js';
import { browse, firstForm, type CookieJar, type Page } from '../helpers/rp.js';
import { CLIENTS, authUrl, codeFor, pkcePair, redeem } from './support.js';

const PASSWORD = 'trout-Secret-42';
const clock = frozenClock(Date.now());
const logLines: string[] = [];
let broker: Broker;
let server: http.Server;
let issuer: string;

/** A broker built directly (not through startBroker) to read its log. */
beforeAll(async () => {
  server = http.createServer((req, res) => broker.app(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dex`;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  broker = await createBroker(
    {
      issuer,
      storage: { type: 'memory' },
      connectors: [
        { type: 'mockCallback', id: 'mock', name: 'Example' },
        { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: PASSWORD } },
      ],
      staticClients: CLIENTS.map((c) => (c.id === TEST_CLIENT.id ? { ...c, postLogoutRedirectURIs: ['http://127.0.0.1:5555/bye'] } : c)),
      oauth2: { skipApprovalScreen: false, passwordConnector: 'pw' },
    },
    { connectors, now: clock, logger: pino({ level: 'debug' }, sink) },
  );
});
afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await broker.close();
});

/** Follows a login to the page whose body matches, stops there (the page is not submitted) and returns it. */
async function pageOf(start: string, matches: (p: Page) => boolean, password?: { username: string; password: string }, jar?: CookieJar): Promise<Page> {
  let found: Page | undefined;
  await browse(start, TEST_CLIENT.redirectURI, {
    ...(password ? { password } : {}),
    ...(jar ? { jar } : {}),
    onPage: async (p) => {
      if (found || !matches(p)) return undefined;
      found = p;
      return { url: `${TEST_CLIENT.redirectURI}?stopped` };
    },
  });
  if (!found) throw new Error(`no such page on the way from ${start}`);
  return found;
}

function expectUnframedUncached(p: { headers: Headers }, what: string): void {
  const csp = p.headers.get('content-security-policy') ?? '';
  const xfo = p.headers.get('x-frame-options');
  expect({ what, framing: csp.includes("frame-ancestors 'none'") || xfo === 'DENY' }).toEqual({ what, framing: true });
  expect({ what, xfo }).toEqual({ what, xfo: 'DENY' });
  expect({ what, nosniff: p.headers.get('x-content-type-options') }).toEqual({ what, nosniff: 'nosniff' });
  expect({ what, cache: p.headers.get('cache-control') }).toEqual({ what, cache: 'no-store' });
}

describe('every page refuses framing and caching', () => {
  test.each([
    ['the connector list', () => getPage(authUrl(issuer, { connector_id: '' }).replace('&connector_id=', ''))],
    ['an error page', () => getPage(authUrl(issuer, { redirect_uri: 'https://evil.example/' }))],
    ['the 404 page', () => getPage(`${issuer}/nowhere`)],
    ['the logged-out page', () => getPage(`${issuer}/logout`)],
    ['the device code page', () => getPage(`${issuer}/device`)],
  ])('%s', async (what, load) => {
    const p = await load();
    expect(p.headers.get('content-type')).toMatch(/^text\/html/);
    expect(p.body).toContain('<html');
    expectUnframedUncached(p, what);
    expect(p.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  test('the password form', async () => {
    const p = await pageOf(authUrl(issuer, { connector_id: 'pw' }), (x) => x.body.includes('name="password"'));
    expectUnframedUncached(p, 'password form');
  });

  test('the approval page', async () => {
    const p = await pageOf(authUrl(issuer, { connector_id: 'pw' }), (x) => x.body.includes('name="approval"'), { username: 'kilgore', password: PASSWORD });
    expectUnframedUncached(p, 'approval page');
  });

  test('the form_post response page', async () => {
    const p = await pageOf(authUrl(issuer, { connector_id: 'pw', response_mode: 'form_post' }), (x) => x.body.includes('document.forms[0].submit()'), { username: 'kilgore', password: PASSWORD });
    expectUnframedUncached(p, 'form_post page');
  });
});

describe('token responses are never cached', () => {
  const expectNoStore = (res: { status: number; headers: Headers }, what: string) => expect({ what, status: res.status, cache: res.headers.get('cache-control') }).toEqual({ what, status: res.status, cache: 'no-store' });

  test('password grant, refresh grant, token exchange: success', async () => {
    const pw = await postForm(`${issuer}/token`, { grant_type: 'password', username: 'kilgore', password: PASSWORD, scope: 'openid offline_access' }, basicAuth());
    expect(pw.status).toBe(200);
    expectNoStore(pw, 'password');
    expect(pw.headers.get('pragma')).toBe('no-cache');
    const rt = await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: pw.body.refresh_token as string }, basicAuth());
    expectNoStore(rt, 'refresh');
    const tx = await postForm(`${issuer}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', connector_id: 'mock', subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, basicAuth());
    expectNoStore(tx, 'token exchange');
  });

  test('errors: invalid_client, invalid_grant, unsupported_grant_type', async () => {
    expectNoStore(await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, basicAuth(TEST_CLIENT.id, 'wrong')), 'invalid_client');
    expectNoStore(await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, basicAuth()), 'invalid_grant');
    expectNoStore(await postForm(`${issuer}/token`, { grant_type: 'magic' }, basicAuth()), 'unsupported_grant_type');
  });
});

describe('CSRF tokens and approval HMACs are bound to their own auth request', () => {
  test('the password form of one login does not accept the CSRF token of another', async () => {
    // One browser starts both logins (a login is only finished by the browser that started it).
    const jar: CookieJar = new Map();
    const formOf = async () => firstForm((await pageOf(authUrl(issuer, { connector_id: 'pw' }), (x) => x.body.includes('name="password"'), undefined, jar)).body, issuer)!;
    const a = await formOf();
    const b = await formOf();
    expect(a.fields.csrf).not.toBe(b.fields.csrf);
    const cookie = [...jar.get(new URL(issuer).host)!].map(([k, v]) => `${k}=${v}`).join('; ');
    const post = (csrf: string) => fetch(b.action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ ...b.fields, csrf, login: 'kilgore', password: PASSWORD }) });
    expect((await post(a.fields.csrf!)).status).toBe(403);
    expect((await post(b.fields.csrf!)).status).toBe(303);
  });

  test('the approval of one login cannot be posted with the HMAC of another', async () => {
    const jar: CookieJar = new Map();
    const approvalOf = async () => firstForm((await pageOf(authUrl(issuer, { connector_id: 'pw' }), (x) => x.body.includes('name="approval"'), { username: 'kilgore', password: PASSWORD }, jar)).body, issuer)!;
    const a = await approvalOf();
    const b = await approvalOf();
    const cookie = [...jar.get(new URL(issuer).host)!].map(([k, v]) => `${k}=${v}`).join('; ');
    const post = (hmac: string) => fetch(b.action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ ...b.fields, hmac }) });
    const forged = await post(a.fields.hmac!);
    expect(forged.status).toBe(400);
    expect(forged.headers.get('location')).toBeNull();
    const own = await post(b.fields.hmac!);
    expect(own.status).toBe(303);
    expect(own.headers.get('location')).toContain(TEST_CLIENT.redirectURI);
  });
});

describe('brute-force protection cannot be dodged', () => {
  const grant = (username: string, password: string) => postForm(`${issuer}/token`, { grant_type: 'password', username, password, scope: 'openid' }, basicAuth());

  test('case and surrounding spaces of the username count as the same user', async () => {
    const variants = ['KILGORE', ' kilgore', 'Kilgore ', 'kilGore'];
    for (let i = 0; i < 10; i++) expect((await grant(variants[i % variants.length]!, `wrong-${i}`)).status).toBe(400);
    const locked = await grant('kilgore', PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('temporarily_unavailable');
  });

  test('the lock ends with its window', async () => {
    clock.advance(16 * 60_000);
    expect((await grant('kilgore', PASSWORD)).status).toBe(200);
  });

  test('fullwidth forms and invisible characters, which LDAP matching ignores, count as the same user', async () => {
    clock.advance(16 * 60_000);
    const variants = ['ｋｉｌｇｏｒｅ', 'ＫＩＬＧＯＲＥ', 'ｋilgore', 'kil\u00ADgore', 'kil\u200Bgore', '\u3000kilgore'];
    for (let i = 0; i < 10; i++) expect((await grant(variants[i % variants.length]!, `wrong-${i}`)).status).toBe(400);
    expect((await grant('kilgore', PASSWORD)).status).toBe(429);
    expect((await grant('ｋｉｌgｏｒe', PASSWORD)).status).toBe(429);
    clock.advance(16 * 60_000);
  });

  test('the per-user key is the username as LDAP compares it', () => {
    expect(throttleUsername('Alice   Liddell')).toBe(throttleUsername(' alice liddell '));
    expect(throttleUsername('Alice\u3000\t Liddell')).toBe('alice liddell');
    expect(throttleUsername('ａｌｉｃｅ@ＥＸＡＭＰＬＥ.org')).toBe('alice@example.org');
    expect(throttleUsername('luc\u030Cic\u0301')).toBe(throttleUsername('lučić'));
    expect(throttleUsername('alice')).not.toBe(throttleUsername('alicf'));
  });

  test('spreading failures over many usernames hits the per-address limit', async () => {
    clock.advance(16 * 60_000);
    let status = 0;
    for (let i = 0; i < 101 && status !== 429; i++) status = (await grant(`user-${i}`, 'nope')).status;
    expect(status).toBe(429);
    expect((await grant('someone-new', 'nope')).status).toBe(429);
    clock.advance(16 * 60_000);
  });

  test('failed attempts are logged with the username and without the password', async () => {
    await grant('kilgore', 'Hunter2-not-the-password');
    const log = logLines.join('\n');
    expect(log).toContain('wrong credentials');
    expect(log).not.toContain('Hunter2-not-the-password');
    expect(log).not.toContain(PASSWORD);
  });
});

describe('codes and PKCE under attack', () => {
  test('a stolen code without the verifier is useless, and burns the code', async () => {
    const { verifier, challenge } = pkcePair('z');
    const code = await codeFor(issuer, { code_challenge: challenge, code_challenge_method: 'S256' });
    expect((await redeem(issuer, code)).body.error).toBe('invalid_grant');
    expect((await redeem(issuer, code, TEST_CLIENT, { code_verifier: verifier })).body.error).toBe('invalid_grant');
  });
});
