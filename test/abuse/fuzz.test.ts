/**
 * Abuse, measured: malformed, oversized and hostile requests to every endpoint of the broker,
 * generated with fast-check (bounded in runs and time; FUZZ_RUNS and FUZZ_SECONDS override) and
 * sent on raw sockets so that invalid UTF-8, broken percent-encoding, odd methods and headers
 * arrive as sent. For every answer: never a 5xx, never a stack trace or an internal path, never
 * the hostile markup reflected unescaped, never silence. Afterwards the broker still serves
 * /healthz, and the tokens issued before the fuzzing still work at /userinfo and for a refresh.
 * The counts are printed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import net from 'node:net';
import fc from 'fast-check';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { browse, login } from '../helpers/rp.js';
import { CLIENTS, PUBLIC } from '../conformance/support.js';
import { HungError, sendRaw, type RawRequest, type RawResponse } from './raw-http.js';

// bcrypt of "password", as in Dex's examples.
const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 60);
/** Printed with the counts; FUZZ_SEED replays a run. */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

let b: TestBroker;
let port: number;
/** Issued before the fuzzing; must survive it. */
let before: { accessToken: string; refreshToken: string };
/** Real tokens the fuzzer may use as values (their own session: rotating them is allowed). */
let bait: { accessToken: string; refreshToken: string; idToken: string };
/** Hostile bearer tokens: alg none, a foreign key under the broker's kid, HS256 keyed with the public key. */
let hostileJwts: Record<string, string>;

beforeAll(async () => {
  b = await startBroker({
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
      { type: 'authproxy', id: 'proxy', name: 'Proxy' },
    ],
    enablePasswordDB: true,
    staticPasswords: [{ email: 'admin@example.com', hash: HASH, username: 'admin', userID: '08a8684b-db88-4b73-90a9-3cd1661f5466' }],
    staticClients: CLIENTS.map((c) => (c.id === TEST_CLIENT.id ? { ...c, postLogoutRedirectURIs: ['http://127.0.0.1:5555/bye'] } : c)),
    oauth2: { skipApprovalScreen: false, passwordConnector: 'local' },
    frontend: { dir: 'test/fixtures/web' },
  });
  port = Number(new URL(b.issuer).port);
  const first = await login(b.issuer, { connectorId: 'mock', scope: 'openid email groups offline_access' });
  before = { accessToken: first.tokens.access_token, refreshToken: first.tokens.refresh_token! };
  const second = await login(b.issuer, { connectorId: 'mock', scope: 'openid email offline_access' });
  bait = { accessToken: second.tokens.access_token, refreshToken: second.tokens.refresh_token!, idToken: second.tokens.id_token! };
  hostileJwts = await makeHostileJwts();
});
afterAll(() => b.close());

async function makeHostileJwts(): Promise<Record<string, string>> {
  const { keys } = (await (await fetch(`${b.issuer}/keys`)).json()) as { keys: JWK[] };
  const brokerKey = keys[0]!;
  const claims = { iss: b.issuer, sub: 'attacker', aud: TEST_CLIENT.id, scope: 'openid email', email: 'admin@example.com', exp: Math.floor(Date.now() / 1000) + 3600, iat: Math.floor(Date.now() / 1000) };
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const foreign = await generateKeyPair('RS256');
  const unsigned = `${b64({ alg: 'none', kid: brokerKey.kid })}.${b64(claims)}.`;
  const foreignSameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: brokerKey.kid! }).sign(foreign.privateKey);
  const foreignOwnKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'attacker-key' }).sign(foreign.privateKey);
  const noKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(foreign.privateKey);
  // Algorithm confusion: HS256 "signed" with the broker's public key as the HMAC secret.
  const hsInput = `${b64({ alg: 'HS256', kid: brokerKey.kid })}.${b64(claims)}`;
  const confused = `${hsInput}.${createHmac('sha256', JSON.stringify(brokerKey)).update(hsInput).digest('base64url')}`;
  // A header carrying its own key (CVE-2018-0114 style): must not be trusted.
  const embedded = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', jwk: await exportJWK(foreign.publicKey) }).sign(foreign.privateKey);
  return { unsigned, foreignSameKid, foreignOwnKid, noKid, confused, embedded };
}

/** What a leaked internal looks like: a stack frame, a source path, an error class name. */
const LEAK = /\n\s*at [^\n]+:\d+:\d+|\bat (?:async )?[\w$.<>]+ \(|node_modules|file:\/\/|\/work\/|\.[cm]?[jt]s:\d+|\b(?:TypeError|ReferenceError|SyntaxError|RangeError|URIError|AssertionError)\b/;

/** Hostile markup from the inputs, come back unescaped. */
const REFLECTED = /<script>alert\(1\)|<img src=x onerror/;

const ENDPOINTS = [
  '/.well-known/openid-configuration', '/keys', '/healthz', '/token', '/userinfo', '/auth', '/auth/mock', '/auth/pw', '/auth/pw/login',
  '/auth/local/login', '/auth/mock/metadata', '/auth/nope', '/auth/%E0%A4%A', '/callback', '/callback/proxy', '/callback/mock', '/callback/nope',
  '/approval', '/logout', '/device/code', '/device', '/device/auth/verify_code', '/device/login/mock', '/device/callback', '/', '/%', '/%2e%2e/%2e%2e/etc/passwd',
  '/static/', '/theme/', '/static/..%2f..%2f..%2fpackage.json', '/theme/%2e%2e/%2e%2e/%2e%2e/%2e%2e/package.json', '/static/%00',
  '/auth/constructor', '/auth/__proto__/login', '/auth/mock/constructor', '/callback/constructor', '/callback/__proto__', '/device/login/__proto__', '/auth/toString/login',
];
const OUTSIDE = ['/', '/favicon.ico', '/%', '/dex%', '/dexx'];
const METHODS = ['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE', 'FOO'];
const PARAM_NAMES = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'max_age',
  'connector_id', 'response_mode', 'id_token_hint', 'post_logout_redirect_uri', 'req', 'hmac', 'approval', 'RelayState', 'SAMLResponse',
  'user_code', 'device_code', 'grant_type', 'code', 'refresh_token', 'access_token', 'client_secret', 'username', 'password', 'login', 'csrf',
  'subject_token', 'subject_token_type', 'requested_token_type', 'code_verifier', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a[b]', 'a[]',
];
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=utf-16',
  'application/x-www-form-urlencoded; charset=koi8-r', 'application/json', 'text/plain', 'text/xml', 'multipart/form-data; boundary=x',
  'application/octet-stream', '', ';;;', 'application/x-www-form-urlencoded\u00ff',
];

function hostileValue(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '', ' ', '%', '%zz', '%E0%A4%A', '%C3%28', '%FF%FE', '%00', '\u0000', '\ud800', '../../etc/passwd', '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
      '${7*7}', '{{7*7}}', "' OR 1=1 --", '__proto__', 'null', '-1', '1e309', '99999999999', '[]', '{}', 'javascript:alert(1)', 'http://evil.example/',
      'urn:ietf:wg:oauth:2.0:oob', 'a'.repeat(5000), 'openid '.repeat(300),
    ),
    fc.constantFrom(
      TEST_CLIENT.id, TEST_CLIENT.redirectURI, PUBLIC.id, 'http://127.0.0.1:43210/cb', 'code', 'openid', 'openid email offline_access', 'S256', 'plain', 'none', 'login',
      'none login', 'form_post', 'mock', 'pw', 'local', 'proxy', 'authorization_code', 'refresh_token', 'password', 'approve',
      'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:token-type:id_token',
      'admin@example.com', 'kilgore', 'trout', 'x'.repeat(43),
    ),
    fc.constantFrom('bait-access', 'bait-refresh', 'bait-id', 'jwt-none', 'jwt-foreign', 'jwt-confused'),
  );
}

/** Placeholders resolved at send time (the tokens exist only after beforeAll). */
function resolve(v: string): string {
  switch (v) {
    case 'bait-access': return bait.accessToken;
    case 'bait-refresh': return bait.refreshToken;
    case 'bait-id': return bait.idToken;
    case 'jwt-none': return hostileJwts.unsigned!;
    case 'jwt-foreign': return hostileJwts.foreignSameKid!;
    case 'jwt-confused': return hostileJwts.confused!;
    default: return v;
  }
}

const pairs = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.string({ maxLength: 12 })), hostileValue()), { maxLength: 12 });

type Encoding = 'proper' | 'raw' | 'percent-garbage';

function encodePairs(list: [string, string][], encoding: Encoding): Buffer {
  if (encoding === 'proper') return Buffer.from(new URLSearchParams(list.map(([k, v]) => [k, resolve(v)])).toString());
  if (encoding === 'raw') return Buffer.concat(list.flatMap(([k, v], i) => [Buffer.from(i ? '&' : ''), Buffer.from(k, 'latin1'), Buffer.from('='), Buffer.from(resolve(v), 'latin1')]));
  const pct = (x: string) => [...Buffer.from(x, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  return Buffer.from(list.map(([k, v]) => `${pct(k)}=${pct(resolve(v)).replace(/%([0-9A-F])[0-9A-F]/g, '%$1')}%`).join('&'));
}

const bodyArb: fc.Arbitrary<{ kind: string; make: () => Buffer | undefined }> = fc.oneof(
  fc.constant({ kind: 'none', make: () => undefined }),
  fc.tuple(pairs, fc.constantFrom<Encoding>('proper', 'raw', 'percent-garbage')).map(([p, e]) => ({ kind: `form-${e}`, make: () => encodePairs(p, e) })),
  fc.uint8Array({ maxLength: 2000 }).map((a) => ({ kind: 'bytes', make: () => Buffer.from(a) })),
  fc.constantFrom(
    { kind: 'broken-json', make: () => Buffer.from('{"grant_type":"authorization_code","code":') },
    { kind: 'deep-json', make: () => Buffer.from(`${'['.repeat(20_000)}${']'.repeat(20_000)}`) },
    { kind: 'proto-json', make: () => Buffer.from('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}') },
    { kind: 'many-params', make: () => Buffer.from(Array.from({ length: 5000 }, (_, i) => `p${i}=1`).join('&')) },
    { kind: 'repeated-params', make: () => Buffer.from('grant_type=refresh_token&grant_type=password&client_id=a&client_id=b&state=1&state=2') },
    { kind: 'form-70kb', make: () => Buffer.from(`code=${'a'.repeat(70_000)}`) },
    { kind: 'saml-400kb', make: () => Buffer.from(`SAMLResponse=${encodeURIComponent(Buffer.alloc(300_000, 7).toString('base64'))}&RelayState=nope`) },
    { kind: 'saml-700kb', make: () => Buffer.from(`SAMLResponse=${Buffer.alloc(520_000, 9).toString('base64')}&RelayState=nope`) },
    { kind: 'post-3mb', make: () => Buffer.alloc(3_000_000, 0x61) },
    { kind: 'invalid-utf8-form', make: () => Buffer.concat([Buffer.from('state='), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('&client_id=example-app')]) },
  ),
);

const headerArb: fc.Arbitrary<[string, string | Buffer]> = fc.oneof(
  { arbitrary: fc.constantFrom<[string, string | Buffer]>(
    ['Authorization', 'Bearer bait-access'],
    ['Authorization', 'Bearer jwt-none'],
    ['Authorization', 'Bearer jwt-foreign'],
    ['Authorization', 'Bearer jwt-confused'],
    ['Authorization', 'Bearer '],
    ['Authorization', `Bearer ${'a'.repeat(8000)}`],
    ['Authorization', 'Basic'],
    ['Authorization', 'Basic %%%'],
    ['Authorization', `Basic ${Buffer.from('%zz:%zz').toString('base64')}`],
    ['Authorization', basicAuth().authorization!],
    ['Authorization', `Basic ${Buffer.from(`${TEST_CLIENT.id}:${'x'.repeat(4000)}`).toString('base64')}`],
    ['Authorization', 'Digest username="x"'],
    ['Cookie', 'dexpress_session=s%3Agarbage.garbage'],
    ['Cookie', `dexpress_session=${'a'.repeat(6000)}`],
    ['Cookie', 'dexpress_session=%E0%A4%A; dexpress_session=x'],
    ['X-Remote-User', 'admin'],
    ['X-Remote-User-Email', 'admin@example.com'],
    ['Origin', 'http://evil.example'],
    ['Accept', 'application/json'],
    ['Content-Encoding', 'gzip'],
    ['Content-Encoding', 'br, identity, x-unknown'],
    ['Transfer-Encoding', 'chunked'],
    ['Expect', '100-continue'],
    ['X-Forwarded-For', '1.2.3.4'],
    ['X-Pad', 'a'.repeat(15_000)],
    ['X-Pad', 'a'.repeat(70_000)],
    ['X-Bytes', Buffer.from([0xc3, 0x28, 0xff, 0xfe])],
    ['X-Ctl', Buffer.from([0x41, 0x01, 0x42])],
  ), weight: 6 },
  { arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/), fc.string({ maxLength: 60 })), weight: 3 },
  { arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 60 })), weight: 1 },
);

const requestArb = fc.record({
  outside: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  endpoint: fc.constantFrom(...ENDPOINTS),
  outsidePath: fc.constantFrom(...OUTSIDE),
  // Mostly absent: raw bytes in the path are refused by Node's parser before the broker sees them.
  rawPath: fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 30 }), weight: 1 }),
  method: fc.constantFrom(...METHODS),
  query: pairs,
  queryEncoding: fc.constantFrom<Encoding>('proper', 'proper', 'proper', 'proper', 'raw', 'percent-garbage', 'percent-garbage'),
  contentType: fc.oneof({ arbitrary: fc.constant(null), weight: 1 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 5 }),
  body: bodyArb,
  headers: fc.array(headerArb, { maxLength: 5 }),
});

type Generated = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Near-valid requests: a request that would succeed (or get far), with up to three parameters
 * set to hostile values, dropped or repeated, so the fuzzing reaches the grants and the flow.
 */
interface Template {
  method: 'GET' | 'POST';
  path: string;
  params: Record<string, string>;
  /** Where the parameters go. */
  in: 'query' | 'body';
  headers?: [string, string][];
}

const S256 = { verifier: 'v'.repeat(43), challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url') };
const AUTH = { client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid email offline_access', state: 's', nonce: 'n', connector_id: 'mock', code_challenge: S256.challenge, code_challenge_method: 'S256' };
const TEMPLATES: Template[] = [
  { method: 'GET', path: '/auth', params: AUTH, in: 'query' },
  { method: 'GET', path: '/auth/mock', params: AUTH, in: 'query' },
  { method: 'GET', path: '/auth/pw', params: { ...AUTH, connector_id: 'pw' }, in: 'query' },
  { method: 'POST', path: '/auth', params: AUTH, in: 'body' },
  { method: 'GET', path: '/auth', params: { ...AUTH, prompt: 'none' }, in: 'query' },
  { method: 'POST', path: '/token', params: { grant_type: 'refresh_token', refresh_token: 'bait-refresh' }, in: 'body', headers: [['Authorization', basicAuth().authorization!]] },
  { method: 'POST', path: '/token', params: { grant_type: 'password', username: 'admin@example.com', password: 'password', scope: 'openid' }, in: 'body', headers: [['Authorization', basicAuth().authorization!]] },
  { method: 'POST', path: '/token', params: { grant_type: 'authorization_code', code: 'x', redirect_uri: TEST_CLIENT.redirectURI, code_verifier: S256.verifier }, in: 'body', headers: [['Authorization', basicAuth().authorization!]] },
  { method: 'POST', path: '/token', params: { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', connector_id: 'mock', subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', scope: 'openid' }, in: 'body', headers: [['Authorization', basicAuth().authorization!]] },
  { method: 'POST', path: '/token', params: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x', client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret }, in: 'body' },
  { method: 'GET', path: '/userinfo', params: {}, in: 'query', headers: [['Authorization', 'Bearer bait-access']] },
  { method: 'POST', path: '/userinfo', params: { access_token: 'bait-access' }, in: 'body' },
  { method: 'GET', path: '/logout', params: { id_token_hint: 'bait-id', post_logout_redirect_uri: 'http://127.0.0.1:5555/bye', state: 'x' }, in: 'query' },
  { method: 'POST', path: '/device/code', params: { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret, scope: 'openid' }, in: 'body' },
  { method: 'POST', path: '/device/auth/verify_code', params: { user_code: 'ABCD-EFGH' }, in: 'body' },
  { method: 'GET', path: '/device', params: { user_code: 'ABCD-EFGH' }, in: 'query' },
  { method: 'GET', path: '/callback', params: { state: 'x', code: 'y' }, in: 'query' },
  { method: 'POST', path: '/callback', params: { SAMLResponse: Buffer.from('<samlp:Response/>').toString('base64'), RelayState: 'x' }, in: 'body' },
  { method: 'GET', path: '/callback/proxy', params: { state: 'x' }, in: 'query', headers: [['X-Remote-User', 'jane']] },
  { method: 'POST', path: '/auth/local/login', params: { state: 'x', login: 'admin@example.com', password: 'password', csrf: 'x' }, in: 'body' },
  { method: 'POST', path: '/approval', params: { req: 'x', hmac: 'y', approval: 'approve' }, in: 'body' },
  { method: 'GET', path: '/approval', params: { req: 'x', hmac: 'y' }, in: 'query' },
];

const mutationArb = fc.array(
  fc.record({ op: fc.constantFrom('set', 'set', 'drop', 'dup'), key: fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.constantFrom(...Object.keys(AUTH))), value: hostileValue() }),
  { maxLength: 3 },
);

const templateArb = fc.record({ template: fc.constantFrom(...TEMPLATES), mutations: mutationArb, extraHeaders: fc.array(headerArb, { maxLength: 2 }) });

type FromTemplate = typeof templateArb extends fc.Arbitrary<infer T> ? T : never;

function buildFromTemplate(g: FromTemplate): RawRequest {
  const list: [string, string][] = Object.entries(g.template.params);
  for (const m of g.mutations) {
    const at = list.findIndex(([k]) => k === m.key);
    if (m.op === 'drop') {
      if (at >= 0) list.splice(at, 1);
    } else if (m.op === 'dup' || at < 0) {
      list.push([m.key, m.value]);
    } else {
      list[at] = [m.key, m.value];
    }
  }
  const encoded = encodePairs(list, 'proper');
  const headers: [string, string | Buffer][] = [...(g.template.headers ?? []), ...g.extraHeaders].map(([k, v]) => [k, typeof v === 'string' ? v.replace(/^Bearer (.*)$/, (_m, t: string) => `Bearer ${resolve(t)}`).replace(/[\r\n]/g, '') : v]);
  const inBody = g.template.in === 'body';
  if (inBody) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  return {
    method: g.template.method,
    target: Buffer.concat([Buffer.from(`/dex${g.template.path}`), !inBody && encoded.length > 0 ? Buffer.concat([Buffer.from('?'), encoded]) : Buffer.alloc(0)]),
    headers,
    ...(inBody ? { body: encoded } : {}),
  };
}

const anyRequestArb: fc.Arbitrary<() => RawRequest> = fc.oneof(
  requestArb.map((g) => () => build(g)),
  templateArb.map((g) => () => buildFromTemplate(g)),
);

function build(g: Generated): RawRequest {
  const path = g.outside ? g.outsidePath : `/dex${g.endpoint}`;
  const target = Buffer.concat([
    Buffer.from(path),
    g.rawPath ? Buffer.concat([Buffer.from('/'), Buffer.from(g.rawPath.filter((x) => x > 0x20 && x !== 0x7f && x !== 0x3f && x !== 0x23))]) : Buffer.alloc(0),
    g.query.length > 0 ? Buffer.concat([Buffer.from('?'), encodePairs(g.query, g.queryEncoding)]).filter((x) => x > 0x20 && x !== 0x7f && x !== 0x23) : Buffer.alloc(0),
  ]);
  const headers: [string | Buffer, string | Buffer][] = g.headers.map(([k, v]) => [k.replace(/[\r\n]/g, ''), typeof v === 'string' ? resolve(v.replace(/^Bearer (.*)$/, (_m, t: string) => `Bearer ${resolve(t)}`)).replace(/[\r\n]/g, '') : v]);
  if (g.contentType !== null) headers.push(['Content-Type', g.contentType]);
  const body = g.body.make();
  return { method: g.method, target: Buffer.from(target), headers, ...(body ? { body } : {}) };
}

interface Tally {
  inputs: number;
  answered: number;
  /** Answered by Node's HTTP parser before the broker saw the request (no content type). */
  parserRefusals: number;
  byStatus: Map<number, number>;
  failures: { why: string; method: string; target: string; status: number; excerpt: string }[];
}

function judge(tally: Tally, req: RawRequest, res: RawResponse | HungError): void {
  tally.inputs++;
  const describeReq = { method: req.method, target: Buffer.from(req.target).toString('latin1').slice(0, 160) };
  if (res instanceof HungError) {
    tally.failures.push({ why: 'hung', ...describeReq, status: 0, excerpt: '' });
    return;
  }
  tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
  if (res.status === 0) {
    if (process.env.FUZZ_DEBUG) console.log('CLOSED', describeReq.method, describeReq.target.slice(0, 60), JSON.stringify(req.headers.map(([k, v]) => [String(k), String(v).slice(0, 40)])), req.body?.length);
    tally.failures.push({ why: 'closed without an answer', ...describeReq, status: 0, excerpt: res.body.slice(0, 200) });
    return;
  }
  tally.answered++;
  if (!res.headers['content-type']) tally.parserRefusals++;
  if (process.env.FUZZ_DEBUG && !res.headers['content-type']) console.log(describeReq.method, describeReq.target.slice(0, 80), req.headers.map(([k]) => String(k)).join(','), res.body.slice(0, 120).replace(/\s+/g, ' '));
  if (res.status >= 500) tally.failures.push({ why: '5xx', ...describeReq, status: res.status, excerpt: res.body.slice(0, 300) });
  const reflected = REFLECTED.exec(res.body);
  if (reflected) tally.failures.push({ why: 'reflected markup', ...describeReq, status: res.status, excerpt: res.body.slice(Math.max(0, reflected.index - 100), reflected.index + 100) });
  const leak = LEAK.exec(res.body);
  if (leak) tally.failures.push({ why: `leak: ${leak[0].trim().slice(0, 60)}`, ...describeReq, status: res.status, excerpt: res.body.slice(Math.max(0, leak.index - 100), leak.index + 200) });
}

async function userinfoStatus(token: string): Promise<number> {
  const res = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return res.status;
}

describe('hostile bearer tokens at /userinfo', () => {
  test.each(['unsigned', 'foreignSameKid', 'foreignOwnKid', 'noKid', 'confused', 'embedded'])('%s: 401 invalid_token, by header and by form body', async (name) => {
    const token = hostileJwts[name]!;
    const header = await fetch(`${b.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    expect(header.status).toBe(401);
    expect(header.headers.get('www-authenticate')).toContain('invalid_token');
    const body = await fetch(`${b.issuer}/userinfo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: token }) });
    expect(body.status).toBe(401);
  });
});

describe('oversized and malformed input, one case each', () => {
  const send = (req: RawRequest) => sendRaw(port, req, 10_000);
  const form = (path: string, body: Buffer | string): RawRequest => ({ method: 'POST', target: `/dex${path}`, headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: Buffer.from(body) });

  test('a SAML-sized POST (400 kB) to /callback is read and refused for its unknown RelayState, not for its size', async () => {
    const res = await send(form('/callback', `SAMLResponse=${encodeURIComponent(Buffer.alloc(300_000, 7).toString('base64'))}&RelayState=unknown`));
    expect(res.status).toBe(400);
    expect(res.body).toContain('expired');
  });

  test('a POST to /callback over its 512 kB limit is 413', async () => {
    const res = await send(form('/callback', `SAMLResponse=${Buffer.alloc(600_000, 9).toString('base64')}&RelayState=x`));
    expect(res.status).toBe(413);
    expect(LEAK.test(res.body)).toBe(false);
  });

  test('a 70 kB form to /token is 413 as OAuth JSON', async () => {
    const res = await send({ ...form('/token', `grant_type=authorization_code&code=${'a'.repeat(70_000)}`), headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Authorization', basicAuth().authorization!]] });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
  });

  test('a form with thousands of parameters is refused with a 4xx', async () => {
    const res = await send(form('/auth', Array.from({ length: 5000 }, (_, i) => `p${i}=1`).join('&')));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  test('a 70 kB header is 431 from the HTTP server', async () => {
    const res = await send({ method: 'GET', target: '/dex/healthz', headers: [['X-Pad', 'a'.repeat(70_000)]] });
    expect(res.status).toBe(431);
  });

  test('invalid UTF-8 bytes and broken percent-encoding in /auth parameters are an error page', async () => {
    for (const target of [Buffer.concat([Buffer.from('/dex/auth?client_id='), Buffer.from([0xc3, 0x28, 0xff])]), '/dex/auth?client_id=%E0%A4%A&redirect_uri=%', '/dex/auth/%E0%A4%A?client_id=x']) {
      const res = await send({ method: 'GET', target, headers: [] });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(LEAK.test(res.body)).toBe(false);
    }
  });

  test('JSON, broken JSON and deeply nested JSON at /token are invalid_request', async () => {
    for (const body of ['{"grant_type":"refresh_token"}', '{"grant_type":', `${'['.repeat(20_000)}${']'.repeat(20_000)}`]) {
      const res = await send({ method: 'POST', target: '/dex/token', headers: [['Content-Type', 'application/json'], ['Authorization', basicAuth().authorization!]], body: Buffer.from(body) });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    }
  });

  test('a form body in a charset body-parser does not know is a 4xx, not a 500', async () => {
    const res = await send({ method: 'POST', target: '/dex/token', headers: [['Content-Type', 'application/x-www-form-urlencoded; charset=koi8-r'], ['Authorization', basicAuth().authorization!]], body: Buffer.from('grant_type=x') });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  test('a body declared huge and never sent does not hold up other clients', async () => {
    const stuck = net.connect(port, '127.0.0.1', () => {
      stuck.write(`POST /dex/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 900000\r\n\r\ngrant_type=x`);
    });
    stuck.on('error', () => undefined);
    try {
      await new Promise((r) => setTimeout(r, 50));
      const res = await send({ method: 'POST', target: '/dex/token', headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Authorization', basicAuth().authorization!]], body: Buffer.from('grant_type=magic') });
      expect(res.status).toBe(400);
      expect((await send({ method: 'GET', target: '/dex/healthz', headers: [] })).status).toBe(200);
    } finally {
      stuck.destroy();
    }
  });

  test('a chunked /token body over the limit is 413; a chunked one under it is read', async () => {
    const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
    const big = `${chunk(`code=${'a'.repeat(40_000)}`)}${chunk('b'.repeat(40_000))}0\r\n\r\n`;
    const headers: [string, string][] = [['Content-Type', 'application/x-www-form-urlencoded'], ['Authorization', basicAuth().authorization!], ['Transfer-Encoding', 'chunked']];
    expect((await send({ method: 'POST', target: '/dex/token', framing: 'as-given', headers, body: Buffer.from(big) })).status).toBe(413);
    const small = await send({ method: 'POST', target: '/dex/token', framing: 'as-given', headers, body: Buffer.from(`${chunk('grant_type=')}${chunk('magic')}0\r\n\r\n`) });
    expect(small.status).toBe(400);
    expect(JSON.parse(small.body)).toMatchObject({ error: 'unsupported_grant_type' });
  });

  test('clients that give up halfway through a body leave the broker serving', async () => {
    await Promise.all(
      ['/dex/token', '/dex/callback', '/dex/auth/local/login?state=x', '/dex/userinfo'].map(
        (target) =>
          new Promise<void>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => {
              socket.write(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\ngrant_type=refresh`);
              setTimeout(() => socket.destroy(), 50);
            });
            socket.on('close', () => resolve());
            socket.on('error', () => resolve());
          }),
      ),
    );
    const res = await send({ method: 'GET', target: '/dex/healthz', headers: [] });
    expect(res.status).toBe(200);
  });

  test('the static web directory cannot be left, however the path is spelled', async () => {
    for (const target of ['/dex/static/../../../package.json', '/dex/static/..%2f..%2f..%2fpackage.json', '/dex/theme/%2e%2e/%2e%2e/%2e%2e/%2e%2e/package.json', '/dex/static/%2e%2e%5c%2e%2e%5cpackage.json', '/dex/static/%00']) {
      const res = await send({ method: 'GET', target, headers: [] });
      expect([400, 403, 404]).toContain(res.status);
      expect(res.body).not.toContain('"name": "dexpress"');
      expect(LEAK.test(res.body)).toBe(false);
    }
  });

  test('a gzip-encoded form that is not gzip is a 4xx', async () => {
    const res = await send({ method: 'POST', target: '/dex/token', headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Encoding', 'gzip'], ['Authorization', basicAuth().authorization!]], body: Buffer.from('grant_type=x') });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('reflected input', () => {
  test('a client_id carrying markup comes back escaped on the error page', async () => {
    const res = await sendRaw(port, { method: 'GET', target: `/dex/auth?${new URLSearchParams({ client_id: '<script>alert(1)</script>', redirect_uri: 'x' })}`, headers: [] });
    expect(res.status).toBe(400);
    expect(res.body).toContain('&lt;script&gt;alert(1)');
    expect(REFLECTED.test(res.body)).toBe(false);
  });

  test('a state carrying markup comes back escaped in the form_post page', async () => {
    const state = '"><img src=x onerror=alert(1)>';
    let formPost: string | undefined;
    await browse(`${b.issuer}/auth?${new URLSearchParams({ ...AUTH, response_mode: 'form_post', state })}`, TEST_CLIENT.redirectURI, {
      onPage: async (page) => {
        if (page.body.includes('document.forms[0].submit()')) formPost = page.body;
        return undefined;
      },
    });
    expect(formPost).toContain('&quot;&gt;&lt;img src=x onerror');
    expect(REFLECTED.test(formPost!)).toBe(false);
  });

  test('a grant type carrying markup comes back in JSON with <, > and & escaped, as Go (Dex) writes them', async () => {
    const grantType = '"><img src=x onerror=alert(1)>&';
    const res = await sendRaw(port, { method: 'POST', target: '/dex/token', headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Authorization', basicAuth().authorization!]], body: Buffer.from(new URLSearchParams({ grant_type: grantType }).toString()) });
    expect(res.status).toBe(400);
    expect(res.body).not.toMatch(/[<>&]/);
    expect(res.body).toContain('\\u003cimg src=x');
    expect(JSON.parse(res.body)).toEqual({ error: 'unsupported_grant_type', error_description: `Unsupported grant type "${grantType}".` });
    expect(REFLECTED.test(res.body)).toBe(false);
  });
});

describe('fuzzing every endpoint', () => {
  test(
    'no 5xx, no leak, no silence; still serving; earlier tokens still valid',
    async () => {
      const tally: Tally = { inputs: 0, answered: 0, parserRefusals: 0, byStatus: new Map(), failures: [] };
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(anyRequestArb, async (make) => {
          const req = make();
          const res = await sendRaw(port, req, 10_000).catch((err: unknown) => {
            if (err instanceof HungError) return err;
            throw err;
          });
          judge(tally, req, res);
          return true;
        }),
        { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false },
      );
      const health = await fetch(`${b.issuer}/healthz`);
      const statuses = [...tally.byStatus].sort(([a], [c]) => a - c).map(([s, n]) => `${s}:${n}`).join(' ');
      console.log(
        [
          `fuzz (seed ${SEED}): ${tally.inputs} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s, ${tally.answered} answered (${tally.parserRefusals} by Node's HTTP parser), ${tally.failures.length} failures`,
          `fuzz: statuses ${statuses}`,
          ...tally.failures.slice(0, 15).map((f) => `fuzz failure [${f.why}] ${f.method} ${f.target} -> ${f.status}: ${f.excerpt.replace(/\s+/g, ' ')}`),
        ].join('\n'),
      );
      expect(tally.inputs).toBeGreaterThan(0);
      expect(health.status).toBe(200);
      expect(await userinfoStatus(before.accessToken)).toBe(200);
      const refreshed = await postForm(`${b.issuer}/token`, { grant_type: 'refresh_token', refresh_token: before.refreshToken }, basicAuth());
      expect(refreshed.status).toBe(200);
      expect(tally.failures).toEqual([]);
    },
    (SECONDS + 60) * 1000,
  );
});
