/**
 * `npm run bench`: how fast the token path is, against the machine's signing ceiling and a peer.
 * A script, not a test. Everything runs on loopback, each load phase is bounded in time and in
 * requests, and the script stops by itself; it writes bench/results.json and prints a table.
 *
 *   BENCH_SECONDS=5        counted seconds per load phase (plus 1 s of warm-up)
 *   BENCH_CONCURRENCY=32   connections of the load generator
 *   BENCH_SIGN_MS=1500     milliseconds per signing measurement
 *   BENCH_PROFILE=1        run dexpress with --cpu-prof (profiles in bench/profiles/)
 *   BENCH_ONLY=sqlite      run only the SQLite part (skips PostgreSQL and the 100k memory phase)
 *   BENCH_TSX=1            run dexpress from the sources through tsx instead of building dist/ first
 *
 * Phases: the signing ceiling (jose / node:crypto sync / thread pool, one core and all cores);
 * a bare Express endpoint (HTTP handling floor); for RS256 and ES256, on SQLite and PostgreSQL,
 * the authorization_code exchange and the refresh_token grant against `dexpress serve`; full
 * logins through mockCallback; oidc-provider doing the same refresh grant; resident memory idle,
 * under load, and with 100,000 live refresh tokens on SQLite.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { kilgoreTrout } from '../strategies/mockCallback/index.js';
import type { AuthCode } from '../lib/flow.js';
import type { Storage } from '../lib/storage/index.js';
import { PostgresStorage } from '../lib/storage/postgres.js';
import { SqliteStorage } from '../lib/storage/sqlite.js';
import { RefreshTokens } from '../lib/tokens/refresh.js';
import { freePort, startPostgres, type Postgres } from '../test/servers/postgres.js';
import { okOrError, runLoad as runLoadOn, type LoadOptions, type LoadResult, type Send, type Unit } from './load.js';
import { startBare, startDexpress, startPeer, type Child, type RunFrom } from './processes.js';
import { measureSigning, type Alg, type SigningFigures } from './signing.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SIGN_MS = Number(process.env.BENCH_SIGN_MS ?? 1500);
const PROFILE = process.env.BENCH_PROFILE === '1';
const ONLY_SQLITE = process.env.BENCH_ONLY === 'sqlite';
const RUN_FROM: RunFrom = process.env.BENCH_TSX === '1' ? 'tsx' : 'dist';
/** Upper bound on units per phase, whatever the speed (the codes seeded for the exchange). */
const MAX_UNITS = 40_000;
const MEMORY_TOKENS = 100_000;

const CLIENT = { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0', redirectURI: 'http://127.0.0.1:5555/callback' };
const BASIC = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC };
const SCOPES = ['openid', 'email', 'profile', 'offline_access'];
const VERIFIER = 'b'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

export const load: LoadOptions = { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, warmupMs: 1000, maxUnits: MAX_UNITS };
export const work = mkdtempSync(join(tmpdir(), 'dexpress-bench-'));

type Backend = 'sqlite' | 'postgres';

interface TokenFigures {
  alg: Alg;
  backend: Backend;
  code: LoadFigures;
  refresh: LoadFigures;
  logins?: LoadFigures;
  rssIdleMB: number;
  rssPeakUnderLoadMB: number;
}

const { connectorData, ...claims } = kilgoreTrout;

function authCode(): AuthCode {
  return {
    clientId: CLIENT.id,
    redirectURI: CLIENT.redirectURI,
    scopes: SCOPES,
    nonce: 'n-0S6_WzA2Mj',
    pkce: { challenge: CHALLENGE, method: 'S256' },
    connectorId: 'mock',
    connectorType: 'mockCallback',
    claims,
    ...(connectorData !== undefined ? { connectorData } : {}),
    authTime: Math.floor(Date.now() / 1000),
  };
}

/** Codes and refresh tokens written straight into the storage the server will use. */
/** Compiles lib/ and strategies/ into dist/ (`tsc -p tsconfig.build.json`), as the package ships. */
export function buildDist(): void {
  if (RUN_FROM !== 'dist') return;
  const root = join(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  // tsc emits even with type errors (someone's work in progress): say so, carry on.
  if (r.status !== 0) console.error(`bench: tsc reported problems (status ${r.status}); running what it emitted:\n${r.stdout.slice(0, 2000)}`);
}

export async function seed(storage: Storage, codes: number, refreshTokens: number): Promise<{ codes: string[]; refreshTokens: string[] }> {
  const codeIds = Array.from({ length: codes }, () => randomBytes(16).toString('base64url'));
  const tokens = new RefreshTokens(storage, { disableRotation: false, reuseIntervalMs: 3000 });
  const out: string[] = [];
  const batch = 5000;
  for (let i = 0; i < Math.max(codes, refreshTokens); i += batch) {
    await storage.transaction(async (tx) => {
      for (let j = i; j < Math.min(i + batch, codes); j++) await tx.create('authCode', codeIds[j]!, authCode(), { expiresAt: Date.now() + 3_600_000 });
      for (let j = i; j < Math.min(i + batch, refreshTokens); j++) {
        const { token } = await tokens.create({ clientId: CLIENT.id, connectorId: 'mock', connectorType: 'mockCallback', scopes: SCOPES, claims, ...(connectorData !== undefined ? { connectorData } : {}), authTime: Math.floor(Date.now() / 1000) }, tx);
        out.push(token);
      }
    });
  }
  return { codes: codeIds, refreshTokens: out };
}

/** A load phase against `server`, with the server's CPU time per unit (all its threads). */
export type LoadFigures = LoadResult & { serverCpuMsPerUnit: number };

export async function runLoad(server: Child, origin: string, options: LoadOptions, makeUnit: (worker: number) => Unit): Promise<LoadFigures> {
  const cpuBefore = server.cpuSeconds();
  const result = await runLoadOn(origin, options, makeUnit);
  // Warm-up units count too here: CPU time cannot be split at the warm-up's end.
  const all = result.units + result.errors + result.warmupUnits;
  return { ...result, serverCpuMsPerUnit: ((server.cpuSeconds() - cpuBefore) * 1000) / Math.max(1, all) };
}

const tokenRequest = (path: string, form: Record<string, string>) => ({ method: 'POST' as const, path, headers: FORM, body: new URLSearchParams(form).toString() });

export function codeUnit(path: string, codes: string[]): Unit {
  return async (send) => {
    const code = codes.pop();
    if (code === undefined) return 'exhausted';
    return okOrError(await send(tokenRequest(path, { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectURI, code_verifier: VERIFIER })));
  };
}

/** One worker's refresh chain: each answer's token is the next request's. */
export function refreshUnit(path: string, first: string | undefined): Unit {
  let token = first;
  return async (send) => {
    if (token === undefined) return 'exhausted';
    const res = await send(tokenRequest(path, { grant_type: 'refresh_token', refresh_token: token }));
    const outcome = okOrError(res);
    if (outcome === 'ok') token = (JSON.parse(res.body) as { refresh_token: string }).refresh_token;
    return outcome;
  };
}

/** A full login: /auth/mock → (mockCallback) → /callback → client redirect with the code → /token. */
function loginUnit(): Unit {
  return async (send: Send) => {
    const cookies = new Map<string, string>();
    const keep = (setCookie: string | string[] | undefined) => {
      for (const c of [setCookie ?? []].flat()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const params = new URLSearchParams({ client_id: CLIENT.id, redirect_uri: CLIENT.redirectURI, response_type: 'code', scope: SCOPES.join(' '), state: 'st', nonce: 'nn', code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    let path = `/dex/auth/mock?${params}`;
    for (let step = 0; step < 6; step++) {
      const res = await send({ method: 'GET', path, headers: cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
      keep(res.headers['set-cookie']);
      const location = res.headers.location;
      if (res.status < 300 || res.status >= 400 || typeof location !== 'string') return { error: `login step ${step}: ${res.status} ${res.body.slice(0, 200)}` };
      if (location.startsWith(CLIENT.redirectURI)) {
        const code = new URL(location).searchParams.get('code');
        if (!code) return { error: `no code: ${location}` };
        return okOrError(await send(tokenRequest('/dex/token', { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectURI, code_verifier: VERIFIER })));
      }
      const u = new URL(location, 'http://x');
      path = `${u.pathname}${u.search}`;
    }
    return { error: 'login went round in circles' };
  };
}

export async function openStore(backend: Backend, pg: Postgres | undefined, name: string): Promise<{ storage: Storage; config: Record<string, unknown> }> {
  if (backend === 'sqlite') {
    const file = join(work, `${name}.sqlite`);
    return { storage: new SqliteStorage(file), config: { type: 'sqlite3', config: { file } } };
  }
  await pg!.createDatabase(name);
  const config = { host: pg!.host, port: pg!.port, database: name, user: pg!.user, ssl: { mode: 'disable' }, maxOpenConns: 10 };
  return { storage: await PostgresStorage.open(config), config: { type: 'postgres', config } };
}

export async function withDexpress<T>(name: string, storageConfig: Record<string, unknown>, alg: Alg, fn: (server: Child, origin: string) => Promise<T>, profile = PROFILE): Promise<T> {
  const port = await freePort();
  const server = await startDexpress({
    port,
    configFile: join(work, `${name}.yaml`),
    storage: storageConfig,
    algorithm: alg,
    client: CLIENT,
    runFrom: RUN_FROM,
    ...(profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(import.meta.dirname, 'profiles')}`, `--cpu-prof-name=${name}.cpuprofile`] } : {}),
  });
  try {
    return await fn(server, `http://127.0.0.1:${port}`);
  } finally {
    await server.stop();
  }
}

async function tokenPhase(alg: Alg, backend: Backend, pg: Postgres | undefined): Promise<TokenFigures> {
  const name = `${alg}-${backend}`.toLowerCase();
  const { storage, config } = await openStore(backend, pg, name);
  const seeded = await seed(storage, MAX_UNITS, CONCURRENCY);
  await storage.close();
  return withDexpress(name, config, alg, async (server, origin) => {
    await new Promise((r) => setTimeout(r, 500));
    const rssIdleMB = server.rssMB();
    const code = await runLoad(server, origin, load, () => codeUnit('/dex/token', seeded.codes));
    const refresh = await runLoad(server, origin, load, (i) => refreshUnit('/dex/token', seeded.refreshTokens[i]));
    const logins = alg === 'RS256' ? await runLoad(server, origin, load, () => loginUnit()) : undefined;
    return { alg, backend, code, refresh, ...(logins ? { logins } : {}), rssIdleMB, rssPeakUnderLoadMB: server.peakRssMB() };
  });
}

async function peerPhase(alg: Alg): Promise<LoadFigures> {
  const peer = await startPeer(alg, CONCURRENCY);
  try {
    const { port, refreshTokens } = peer.hello as { port: number; refreshTokens: string[] };
    return await runLoad(peer, `http://127.0.0.1:${port}`, load, (i) => refreshUnit('/token', refreshTokens[i]));
  } finally {
    await peer.stop();
  }
}

async function barePhase(): Promise<LoadFigures> {
  const bare = await startBare();
  try {
    const { port } = bare.hello as { port: number };
    return await runLoad(bare, `http://127.0.0.1:${port}`, load, () => async (send) => okOrError(await send(tokenRequest('/token', { grant_type: 'refresh_token', refresh_token: 'x'.repeat(66) }))));
  } finally {
    await bare.stop();
  }
}

/** 100,000 live refresh tokens on SQLite: RSS idle after start, then under refresh load on some of them. */
async function memoryPhase(): Promise<{ tokens: number; rssIdleMB: number; rssPeakUnderLoadMB: number; refresh: LoadFigures }> {
  const { storage, config } = await openStore('sqlite', undefined, 'memory-100k');
  const seeded = await seed(storage, 0, MEMORY_TOKENS);
  const live = await storage.count('refreshToken');
  await storage.close();
  return withDexpress('memory-100k', config, 'RS256', async (server, origin) => {
    await new Promise((r) => setTimeout(r, 500));
    const rssIdleMB = server.rssMB();
    // Each worker refreshes its own token, picked from across the whole set.
    const step = Math.floor(MEMORY_TOKENS / CONCURRENCY);
    const refresh = await runLoad(server, origin, { ...load, durationMs: Math.min(load.durationMs, 3000) }, (i) => refreshUnit('/dex/token', seeded.refreshTokens[i * step]));
    return { tokens: live, rssIdleMB, rssPeakUnderLoadMB: server.peakRssMB(), refresh };
  });
}

const round = (n: number, digits = 0) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    cpus: availableParallelism(),
    model: cpus()[0]?.model ?? 'unknown',
    memoryGB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    dexpressRunsFrom: RUN_FROM,
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
    concurrency: CONCURRENCY,
    secondsPerPhase: SECONDS,
  };
  console.error(`bench: ${machine.cpus} CPU(s) ${machine.model}, node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);
  console.error(`bench: building dist/ (dexpress runs ${RUN_FROM === 'dist' ? 'compiled' : 'through tsx'})`);
  buildDist();

  const signing = {} as Record<Alg, SigningFigures>;
  for (const alg of ['RS256', 'ES256'] as const) {
    console.error(`bench: signing ceiling ${alg}`);
    signing[alg] = await measureSigning(alg, SIGN_MS);
  }
  console.error('bench: bare Express');
  const bare = await barePhase();

  let pg: Postgres | undefined;
  const token: TokenFigures[] = [];
  const peer = {} as Record<Alg, LoadFigures>;
  let memory: Awaited<ReturnType<typeof memoryPhase>> | undefined;
  try {
    if (!ONLY_SQLITE) pg = await startPostgres();
    for (const alg of ['RS256', 'ES256'] as const) {
      for (const backend of ONLY_SQLITE ? (['sqlite'] as const) : (['sqlite', 'postgres'] as const)) {
        console.error(`bench: dexpress ${alg} on ${backend}`);
        token.push(await tokenPhase(alg, backend, pg));
      }
      console.error(`bench: oidc-provider ${alg}`);
      peer[alg] = await peerPhase(alg);
    }
    if (!ONLY_SQLITE) {
      console.error(`bench: ${MEMORY_TOKENS} refresh tokens on SQLite`);
      memory = await memoryPhase();
    }
  } finally {
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const find = (alg: Alg, backend: Backend) => token.find((t) => t.alg === alg && t.backend === backend)!;
  const perResponse = 2; // ID token + access token
  const rsCeiling = signing.RS256.ceiling / perResponse;
  const ratios = {
    refreshVsPeerRS256: find('RS256', 'sqlite').refresh.perSecond / peer.RS256.perSecond,
    refreshVsPeerES256: find('ES256', 'sqlite').refresh.perSecond / peer.ES256.perSecond,
    codeVsCeilingRS256: find('RS256', 'sqlite').code.perSecond / rsCeiling,
    refreshVsCeilingRS256: find('RS256', 'sqlite').refresh.perSecond / rsCeiling,
    codeVsBareExpressES256: find('ES256', 'sqlite').code.perSecond / bare.perSecond,
    refreshVsBareExpressES256: find('ES256', 'sqlite').refresh.perSecond / bare.perSecond,
    ...(pg
      ? {
          refreshVsPeerRS256Postgres: find('RS256', 'postgres').refresh.perSecond / peer.RS256.perSecond,
          refreshVsPeerES256Postgres: find('ES256', 'postgres').refresh.perSecond / peer.ES256.perSecond,
          codeVsCeilingRS256Postgres: find('RS256', 'postgres').code.perSecond / rsCeiling,
          refreshVsCeilingRS256Postgres: find('RS256', 'postgres').refresh.perSecond / rsCeiling,
        }
      : {}),
  };
  const targets = {
    'refresh ≥ 1.3 × oidc-provider at RS256': ratios.refreshVsPeerRS256 >= 1.3,
    'refresh ≥ 2 × oidc-provider at ES256': ratios.refreshVsPeerES256 >= 2,
    '/token code exchange ≥ 75 % of the RS256 signing ceiling': ratios.codeVsCeilingRS256 >= 0.75,
    'refresh ≥ 75 % of the RS256 signing ceiling': ratios.refreshVsCeilingRS256 >= 0.75,
    ...(memory ? { '< 150 MB RSS with 100,000 refresh tokens on SQLite': memory.rssPeakUnderLoadMB < 150 } : {}),
  };
  const results = { date: new Date().toISOString(), durationSeconds: round((Date.now() - started) / 1000), machine, signing, bare, token, peer, memory, ratios, targets, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) };
  writeFileSync(join(import.meta.dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(table(results));
}

function table(r: {
  machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[] };
  signing: Record<Alg, SigningFigures>;
  bare: LoadFigures;
  token: TokenFigures[];
  peer: Record<Alg, LoadFigures>;
  memory: { tokens: number; rssIdleMB: number; rssPeakUnderLoadMB: number } | undefined;
  ratios: Record<string, number>;
  targets: Record<string, boolean>;
}): string {
  const lines: string[] = [];
  const f = (n: number) => String(round(n)).padStart(7);
  const ms = (n: number) => String(round(n, 1)).padStart(6);
  lines.push(`dexpress bench: ${r.machine.cpus} CPU(s) ${r.machine.model}, node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.join(' ')}`);
  lines.push('');
  lines.push('signatures/s               jose 1  jose all  sync 1  sync all  pool 1  pool all  ceiling');
  for (const alg of ['RS256', 'ES256'] as const) {
    const s = r.signing[alg];
    lines.push(`  ${alg.padEnd(24)}${f(s.joseOneCore)} ${f(s.joseAllCores)}  ${f(s.cryptoSyncOneCore)} ${f(s.cryptoSyncAllCores)}  ${f(s.threadPoolOneAtATime)} ${f(s.threadPoolAllCores)}  ${f(s.ceiling)}`);
  }
  lines.push('');
  lines.push('HTTP                                   req/s  p50 ms  p99 ms  server CPU ms/req  errors');
  const row = (label: string, l: LoadFigures) =>
    lines.push(`  ${label.padEnd(36)}${f(l.perSecond)}  ${ms(l.p50ms)}  ${ms(l.p99ms)}  ${ms(l.serverCpuMsPerUnit).padStart(17)}  ${l.errors}${l.firstError ? `  (${l.firstError.slice(0, 80)})` : ''}`);
  row('bare Express POST /token', r.bare);
  for (const t of r.token) {
    row(`dexpress ${t.alg} ${t.backend} code exchange`, t.code);
    row(`dexpress ${t.alg} ${t.backend} refresh`, t.refresh);
    if (t.logins) row(`dexpress ${t.alg} ${t.backend} full logins`, t.logins);
  }
  for (const alg of ['RS256', 'ES256'] as const) row(`oidc-provider ${alg} refresh`, r.peer[alg]);
  lines.push('');
  lines.push('RSS MB                               idle  peak under load');
  for (const t of r.token) lines.push(`  dexpress ${t.alg} ${t.backend.padEnd(22)}${f(t.rssIdleMB)}  ${f(t.rssPeakUnderLoadMB)}`);
  if (r.memory) lines.push(`  with ${r.memory.tokens} refresh tokens (SQLite) ${f(r.memory.rssIdleMB)}  ${f(r.memory.rssPeakUnderLoadMB)}`);
  lines.push('');
  lines.push('ratios');
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`  ${k.padEnd(34)}${round(v, 2)}`);
  lines.push('');
  lines.push('targets');
  for (const [k, v] of Object.entries(r.targets)) lines.push(`  ${v ? 'met    ' : 'NOT met'}  ${k}`);
  return lines.join('\n');
}

// Run as the script (npm run bench); bench/profile.ts imports the phases without running them.
if (process.argv[1] === import.meta.filename) {
  if (PROFILE) mkdirSync(join(import.meta.dirname, 'profiles'), { recursive: true });
  await main();
}
