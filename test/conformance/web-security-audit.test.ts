/**
 * A security audit of the broker's web surface, beyond security-practice.test.ts and
 * login-csrf.test.ts: what reaches the log from a hostile request (in Dex's default text format),
 * what hostile names and parameters become on the pages, what Host and X-Forwarded-* headers
 * change, oversized or repeated parameters, per-address limits over IPv6, and the config values
 * that end up in response headers and redirects (web.headers, postLogoutRedirectURIs).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createBroker, type Broker } from '../../lib/broker.js';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import { connectors } from '../../strategies/index.js';
import { makePki, type Pki } from '../fakes/saml/pki.js';
import { responseXml, toBase64 } from '../fakes/saml/messages.js';
import { startBroker, TEST_CLIENT } from '../helpers/broker.js';
import { basicAuth, cookieBrowser, getPage, postForm } from '../helpers/http.js';
import { firstForm } from '../helpers/rp.js';
import { authUrl, pkcePair } from './support.js';

const PASSWORD = 'trout-Secret-42';
const HOSTILE_CONNECTOR = `Ex"><img src=x onerror=alert(1)>`;
const HOSTILE_CLIENT = `<script>alert(1)</script> & 'App'`;
const logLines: string[] = [];
let pki: Pki;
let broker: Broker;
let server: http.Server;
let issuer: string;

/** A broker built directly (not through startBroker) to read its log, in Dex's default `text` format. */
beforeAll(async () => {
  pki = makePki();
  server = http.createServer((req, res) => broker.listener(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dex`;
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      logLines.push(...lines);
      done();
    },
  });
  broker = await createBroker(
    {
      issuer,
      storage: { type: 'memory' },
      connectors: [
        { type: 'mockCallback', id: 'mock', name: HOSTILE_CONNECTOR },
        { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: PASSWORD } },
        { type: 'saml', id: 'okta', name: 'Okta', config: { ssoURL: 'http://127.0.0.1:9/sso', caData: pki.idp.cert, redirectURI: `${issuer}/callback`, usernameAttr: 'name', emailAttr: 'email' } },
      ],
      staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: HOSTILE_CLIENT }],
      oauth2: { passwordConnector: 'pw' },
      // The tests below speak for clients at other addresses (IPv6 ones) through a trusted proxy.
      web: { clientRemoteIP: { header: 'X-Forwarded-For', trustedProxies: ['127.0.0.1'] } },
    },
    { connectors, logger: createLogger({ level: 'debug', format: 'text' }, sink) },
  );
});
afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await broker.close();
  pki.remove();
});

const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) /;

describe('the log (text format) keeps hostile input on its own line', () => {
  test('a SAML Status the attacker writes (unsigned, with &#10; and &#13;) cannot forge a log line', async () => {
    const attacker = cookieBrowser();
    const start = await attacker.send(authUrl(issuer, { connector_id: 'okta', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }).replace('/auth?', '/auth/okta?'));
    const relayState = firstForm(start.body, issuer)!.fields.RelayState!;
    const forged = 'x:&#10;2026-01-01T00.00.00.000Z INFO login succeeded connector=&quot;okta&quot; client=&quot;example-app&quot;&#13;';
    const xml = responseXml({ requestId: '_x', recipient: `${issuer}/callback`, status: 'placeholder' }, '').replace('Value="placeholder"', `Value="${forged}"`);
    const before = logLines.length;
    const res = await attacker.post(`${issuer}/callback`, { SAMLResponse: toBase64(xml), RelayState: relayState });
    expect(res.status).toBe(403);
    const written = logLines.slice(before);
    expect(written.some((l) => l.includes('SAML response refused'))).toBe(true);
    for (const line of written) expect({ line, timestamped: TIMESTAMPED.test(line), cr: line.includes('\r') }).toEqual({ line, timestamped: true, cr: false });
  });

  test('a username with a newline, ESC and C1 CSI (U+009B) reaches the log escaped', async () => {
    const before = logLines.length;
    const username = 'kilgore\n2026-01-01T00:00:00.000Z INFO forged \u001b[2J\u009b2J\u2028end';
    expect((await postForm(`${issuer}/token`, { grant_type: 'password', username, password: 'wrong-one', scope: 'openid' }, basicAuth())).status).toBe(400);
    const written = logLines.slice(before).join('\n');
    expect(written).toContain('wrong credentials');
    expect(written).toContain('username="kilgore\\n2026-01-01T00:00:00.000Z INFO forged \\u001b[2J\\u009b2J\\u2028end"');
    expect(written).not.toMatch(/[\u001b\u009b\u2028]/);
  });
});

describe('per-address limits count an IPv6 client by its /64', () => {
  const from = (address: string) => ({ ...basicAuth(), 'x-forwarded-for': address });
  const grant = (username: string, address: string) => postForm(`${issuer}/token`, { grant_type: 'password', username, password: 'wrong', scope: 'openid' }, from(address));

  test('password guesses spread over usernames and over the addresses of one /64 stop at 100; another /64 is not held up', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 101; i++) statuses.push((await grant(`user-${i}`, `2001:db8:1:2::${i.toString(16)}`)).status);
    expect(statuses.slice(0, 100).every((s) => s === 400)).toBe(true);
    expect(statuses[100]).toBe(429);
    expect((await grant('user-x', '2001:db8:1:2:ffff:ffff:ffff:ffff')).status).toBe(429);
    expect((await grant('user-x', '2001:db8:1:3::1')).status).toBe(400);
  });

  test('wrong device user codes from the addresses of one /64 stop at 10', async () => {
    const browser = cookieBrowser();
    const entry = await browser.send(`${issuer}/device`);
    const csrf = firstForm(entry.body, issuer)!.fields.csrf!;
    const statuses: number[] = [];
    for (let i = 1; i <= 11; i++) statuses.push((await browser.post(`${issuer}/device/auth/verify_code`, { csrf, user_code: 'BCDF-GHJK' }, { 'x-forwarded-for': `2001:db8:9:9::${i}` })).status);
    expect(statuses).toEqual([...Array<number>(10).fill(400), 429]);
  });
});

describe('found right', () => {
  test('the session cookie: HttpOnly, SameSite=Lax, Path the issuer path, no Domain, not Secure over http; a new id after the login', async () => {
    const browser = cookieBrowser();
    const start = await fetch(`${issuer}/auth/mock?${new URL(authUrl(issuer, { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })).search.slice(1)}`, { redirect: 'manual' });
    const [set] = start.headers.getSetCookie();
    expect(set!.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Path=/dex', 'SameSite=Lax']);
    const planted = set!.split(';')[0]!;
    const [name, value] = planted.split('=') as [string, string];
    browser.jar.set(name, value);
    expect((await browser.send(start.headers.get('location')!)).status).toBe(303);
    expect(browser.jar.get(name)).not.toBe(value);
  });

  test('client and connector names are escaped on the connector list and the approval page', async () => {
    const browser = cookieBrowser();
    const list = await browser.send(authUrl(issuer, { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }).replace('&connector_id=mock', ''));
    expect(list.body).toContain('Log in with Ex&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    const toCallback = await browser.send(new URL(/href="([^"]*\/auth\/mock[^"]*)"/.exec(list.body)![1]!.replace(/&amp;/g, '&'), issuer).toString());
    const toApproval = await browser.send(new URL((await browser.send(toCallback.location!)).location ?? '', issuer).toString());
    expect(toApproval.body).toContain('Grant access to &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;App&#39;');
    for (const page of [list.body, toApproval.body]) expect(page).not.toMatch(/<script|<img/);
  });

  test('Host, X-Forwarded-Host, -Proto and -Prefix change no URL the broker hands out', async () => {
    const forged = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/evil' };
    const get = (url: string) => fetch(url, { redirect: 'manual', headers: forged });
    const discovery = (await (await get(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(discovery.issuer).toBe(issuer);
    expect(discovery.authorization_endpoint).toBe(`${issuer}/auth`);
    const toConnector = await get(authUrl(issuer, { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    expect(toConnector.headers.get('location')!.startsWith(`${issuer}/auth/mock?`)).toBe(true);
    const toCallback = await get(toConnector.headers.get('location')!);
    expect(toCallback.headers.get('location')!.startsWith(`${issuer}/callback?state=`)).toBe(true);
    const device = await postForm(`${issuer}/device/code`, { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret, scope: 'openid' }, forged);
    expect(device.body.verification_uri).toBe(`${issuer}/device`);
  });

  test('a 10 MB body to the password form and to /token is refused (413) with a plain answer, no internals', async () => {
    const body = `login=kilgore&password=${'x'.repeat(10 * 1024 * 1024)}`;
    const form = await fetch(`${issuer}/auth/pw/login?state=x`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(form.status).toBe(413);
    expect(await form.text()).toContain('The request body is too large.');
    const token = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basicAuth() }, body: `grant_type=password&${body}` });
    expect(token.status).toBe(413);
    expect(await token.json()).toEqual({ error: 'invalid_request', error_description: 'The request body is too large.' });
  });

  test('/token refuses a parameter sent twice, even with the same value (RFC 6749 3.2), and says which', async () => {
    const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basicAuth() }, body: `grant_type=password&username=kilgore&password=${PASSWORD}&password=${PASSWORD}&scope=openid` });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'The parameter "password" was sent more than once.' });
  });
});

describe('web.headers', () => {
  test('a Content-Security-Policy written as a folded YAML block (ends in a newline) is sent as Go writes it; a blank value keeps the default', async () => {
    const { parseDexYaml } = await import('../../lib/config/yaml.js');
    const { web } = parseDexYaml(`web:\n  headers:\n    Content-Security-Policy: >\n      default-src 'none';\n      frame-ancestors 'none'\n    X-Frame-Options: ""\n`) as { web: Record<string, unknown> };
    const b = await startBroker({ web, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] });
    try {
      const token = await postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, basicAuth());
      expect(token.status).toBe(400);
      expect(token.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      const page = await getPage(`${b.issuer}/nowhere`);
      expect(page.status).toBe(404);
      expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    } finally {
      await b.close();
    }
  });

  test('a header name or value HTTP cannot carry is a config error naming it', () => {
    const load = (headers: Record<string, string>) => () => loadConfig({ issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, web: { headers } }, { connectors });
    expect(load({ 'X Bad Name': 'x' })).toThrow(ConfigError);
    expect(load({ 'X Bad Name': 'x' })).toThrow(/web\.headers\.X Bad Name.*not a valid HTTP header name/);
    expect(load({ 'X-Note': 'a\u0000b' })).toThrow(/web\.headers\.X-Note.*cannot carry/);
    expect(load({ 'X-Note': 'caf\u00e9 \u2603' })).toThrow(/web\.headers\.X-Note/);
  });
});

describe('staticClients[].postLogoutRedirectURIs', () => {
  test('a relative one is a config error naming it (it was accepted, then /logout answered 500)', () => {
    const load = () => loadConfig({ issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, staticClients: [{ id: 'a', secret: 'b', redirectURIs: ['http://127.0.0.1:1/cb'], postLogoutRedirectURIs: ['http://127.0.0.1:1/bye', '/bye'] }] }, { connectors });
    expect(load).toThrow(/staticClients\[0\]\.postLogoutRedirectURIs\[1\].*must be an absolute URL/);
  });
});

describe('an https issuer reached over plain HTTP without X-Forwarded-Proto', () => {
  test('is said once in the log, with the cause (the Secure cookie is withheld, so logins fail as started elsewhere)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const https = await createBroker(
      { issuer: 'https://sso.example.com/dex', storage: { type: 'memory' }, connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] },
      { connectors, logger: createLogger({ level: 'info', format: 'json' }, sink) },
    );
    const plain = http.createServer(https.app);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const at = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/dex/logout`;
    const warned = () => lines.filter((l) => l.includes('X-Forwarded-Proto: https')).length;
    try {
      await fetch(at, { headers: { 'x-forwarded-proto': 'https' } });
      await fetch(at, { headers: { 'x-forwarded-proto': 'HTTPS, http' } });
      expect(warned()).toBe(0);
      const refused = await fetch(at);
      expect(refused.headers.get('set-cookie')).toBeNull();
      await fetch(at, { headers: { 'x-forwarded-proto': 'http' } });
      expect(warned()).toBe(1);
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
      await https.close();
    }
  });
});
