/**
 * `npm run bench`: how fast the token path is, against the machine's signing ceiling and a peer.
 * A script, not a test. Everything runs on loopback, each load phase is bounded in time and in
 * requests, and the script stops by itself; it writes bench/results.json and prints a table.
 *
 *   BENCH_SECONDS=4        counted seconds per load phase (plus 1 s of warm-up)
 *   BENCH_ROUNDS=3         rounds; each runs every contender once, in a rotated order
 *   BENCH_CONCURRENCY=32   connections of the load generator
 *   BENCH_SIGN_MS=1500     milliseconds per signing measurement
 *   BENCH_PROFILE=1        run dexpress with --cpu-prof (profiles in bench/profiles/)
 *   BENCH_ONLY=sqlite      run only the SQLite part (skips PostgreSQL and the 100k memory phase)
 *   BENCH_ONLY=memory      run only the 100k refresh tokens memory phase
 *   BENCH_NODE_FLAGS="..."  extra node flags for dexpress (e.g. --max-semi-space-size=4)
 *   BENCH_TSX=1            run dexpress from the sources through tsx instead of building dist/ first
 *
 * Phases: the signing ceiling (jose / node:crypto sync / thread pool, one core and all cores);
 * a bare Express endpoint (HTTP handling floor); for RS256 and ES256, on SQLite and PostgreSQL,
 * the authorization_code exchange and the refresh_token grant against `dexpress serve`; full
 * logins through mockCallback; oidc-provider doing the same refresh grant (a fresh process and
 * fresh grants each round, see freshPeerContender); a minimal two-JWT
 * broker (bench/minimal.ts: node:http + jose, tokens in memory) as the yardstick of what the
 * machine allows; resident memory idle, under load, and with 100,000 live refresh tokens on SQLite.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { kilgoreTrout } from '../strategies/mockCallback/index.js';
import type { AuthCode } from '../lib/auth-code.js';
import type { Storage } from '../lib/storage/index.js';
import { PostgresStorage } from '../lib/storage/postgres.js';
import { SqliteStorage } from '../lib/storage/sqlite.js';
import { RefreshTokens } from '../lib/tokens/refresh.js';
import { freePort, startPostgres, type Postgres } from '../test/servers/postgres.js';
import { okOrError, runLoad as runLoadOn, type GeneratorCpu, type LoadOptions, type LoadResult, type Send, type Unit } from './load.js';
import { startBare, startDexpress, startMinimal, startPeer, type Child, type RunFrom } from './processes.js';
import { measureCeiling, measureSigning, type Alg, type SigningFigures } from './signing.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SIGN_MS = Number(process.env.BENCH_SIGN_MS ?? 1500);
const PROFILE = process.env.BENCH_PROFILE === '1';
const ONLY_SQLITE = process.env.BENCH_ONLY === 'sqlite';
const ONLY_MEMORY = process.env.BENCH_ONLY === 'memory';
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
const RUN_FROM: RunFrom = process.env.BENCH_TSX === '1' ? 'tsx' : 'dist';
/** Upper bound on units per phase, whatever the speed (the codes seeded for the exchange). */
const MAX_UNITS = 40_000;
const MEMORY_TOKENS = 100_000;
/** Every comparison runs this many times, interleaved; the medians are reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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
export type LoadFigures = LoadResult & GeneratorCpu & {
  /** Server CPU per unit, all threads: what bounds throughput on a machine with few cores. */
  serverCpuMsPerUnit: number;
  /** Server main-thread CPU per unit: what bounds it when the thread pool has cores to spare. */
  eventLoopCpuMsPerUnit: number;
};

export async function runLoad(server: Child, origin: string, options: LoadOptions, makeUnit: (worker: number) => Unit): Promise<LoadFigures> {
  const cpuBefore = server.cpuSeconds();
  const mainBefore = server.mainThreadCpuSeconds();
  const result = await runLoadOn(origin, options, makeUnit);
  // Warm-up units count too here: CPU time cannot be split at the warm-up's end.
  const all = Math.max(1, result.units + result.errors + result.warmupUnits);
  return {
    ...result,
    serverCpuMsPerUnit: ((server.cpuSeconds() - cpuBefore) * 1000) / all,
    eventLoopCpuMsPerUnit: ((server.mainThreadCpuSeconds() - mainBefore) * 1000) / all,
  };
}

const tokenRequest = (path: string, form: Record<string, string>) => ({ method: 'POST' as const, path, headers: FORM, body: new URLSearchParams(form).toString() });

export function codeUnit(path: string, codes: string[]): Unit {
  return async (send) => {
    const code = codes.pop();
    if (code === undefined) return 'exhausted';
    return okOrError(await send(tokenRequest(path, { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectURI, code_verifier: VERIFIER })));
  };
}

/** One worker's refresh chain: each answer's token is the next request's; `current()` is the latest. */
export function refreshUnit(path: string, first: string | undefined): Unit & { current(): string | undefined } {
  let token = first;
  const unit: Unit = async (send) => {
    if (token === undefined) return 'exhausted';
    const res = await send(tokenRequest(path, { grant_type: 'refresh_token', refresh_token: token }));
    const outcome = okOrError(res);
    if (outcome === 'ok') token = (JSON.parse(res.body) as { refresh_token: string }).refresh_token;
    return outcome;
  };
  return Object.assign(unit, { current: () => token });
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

/** Node flags for `--cpu-prof` into bench/profiles/<name>.cpuprofile. */
export const cpuProfFlags = (name: string) => ['--cpu-prof', `--cpu-prof-dir=${join(import.meta.dirname, 'profiles')}`, `--cpu-prof-name=${name}.cpuprofile`];

/** `dexpress serve` (compiled, or through tsx) on a free loopback port with the bench client; its origin. */
async function launchDexpress(name: string, storageConfig: Record<string, unknown>, alg: Alg, extraFlags: string[]): Promise<{ server: Child; origin: string }> {
  const port = await freePort();
  const server = await startDexpress({
    port,
    configFile: join(work, `${name}.yaml`),
    storage: storageConfig,
    algorithm: alg,
    client: CLIENT,
    runFrom: RUN_FROM,
    nodeFlags: [...NODE_FLAGS, ...extraFlags],
  });
  return { server, origin: `http://127.0.0.1:${port}` };
}

export async function withDexpress<T>(
  name: string,
  storageConfig: Record<string, unknown>,
  alg: Alg,
  fn: (server: Child, origin: string) => Promise<T>,
  extraFlags: string[] = PROFILE ? cpuProfFlags(name) : [],
): Promise<T> {
  const { server, origin } = await launchDexpress(name, storageConfig, alg, extraFlags);
  try {
    return await fn(server, origin);
  } finally {
    await server.stop();
  }
}

/** One SQLite phase for the profilers: a seeded file, and the unit each load worker runs. */
export async function profilePhase(name: string, kind: 'refresh' | 'code'): Promise<{ config: Record<string, unknown>; unit: (worker: number) => Unit }> {
  const { storage, config } = await openStore('sqlite', undefined, name);
  const seeded = await seed(storage, kind === 'code' ? load.maxUnits : 0, load.concurrency);
  await storage.close();
  return { config, unit: (i) => (kind === 'code' ? codeUnit('/dex/token', seeded.codes) : refreshUnit('/dex/token', seeded.refreshTokens[i])) };
}

/** A running dexpress with seeded codes and refresh chains. */
interface Running {
  server: Child;
  origin: string;
  codes: string[];
  refreshTokens: (string | undefined)[];
  rssIdleMB: number;
}

async function startSeeded(alg: Alg, backend: Backend, pg: Postgres | undefined): Promise<Running> {
  const name = `${alg}-${backend}`.toLowerCase();
  const { storage, config } = await openStore(backend, pg, name);
  // Every round's code-exchange phase may use up to MAX_UNITS codes: a phase must never run out.
  const seeded = await seed(storage, MAX_UNITS * ROUNDS, CONCURRENCY);
  await storage.close();
  const { server, origin } = await launchDexpress(name, config, alg, PROFILE ? cpuProfFlags(name) : []);
  await new Promise((r) => setTimeout(r, 500));
  return { server, origin, codes: seeded.codes, refreshTokens: seeded.refreshTokens, rssIdleMB: server.rssMB() };
}

/** One measured thing: run once per round. */
interface Contender {
  label: string;
  run(): Promise<LoadFigures>;
}

/** The refresh grant against `server`, one chain per worker, each chain kept across rounds. */
function refreshContender(label: string, server: Child, origin: string, path: string, chains: (string | undefined)[]): Contender {
  return {
    label,
    run: () =>
      runLoad(server, origin, load, (i) => {
        const unit = refreshUnit(path, chains[i]);
        return async (send) => {
          const outcome = await unit(send);
          chains[i] = unit.current();
          return outcome;
        };
      }),
  };
}

/** A child that printed `{ port, refreshTokens }` (the peer, the minimal broker): its refresh contender. */
function childRefreshContender(label: string, child: Child): Contender {
  const hello = child.hello as { port: number; refreshTokens: string[] };
  return refreshContender(label, child, `http://127.0.0.1:${hello.port}`, '/token', hello.refreshTokens);
}

/**
 * The peer, started afresh for each of its rounds: oidc-provider's in-memory adapter records every
 * token issued under a grant in that grant's member list and walks the list on each save, so a
 * refresh chain kept across rounds makes it slower round after round (3,167 → 2,915 → 2,595 req/s
 * measured). A fresh process with fresh grants each round measures it at its best. `peakRssMB`
 * is the highest peak of its runs.
 */
function freshPeerContender(label: string, start: () => Promise<Child>): Contender & { stop(): Promise<void>; peakRssMB(): number } {
  let current: Child | undefined;
  let peak = 0;
  const stop = async () => {
    if (!current) return;
    peak = Math.max(peak, current.peakRssMB());
    await current.stop();
    current = undefined;
  };
  return {
    label,
    async run() {
      await stop();
      current = await start();
      return childRefreshContender(label, current).run();
    },
    stop,
    peakRssMB: () => Math.max(peak, current?.peakRssMB() ?? 0),
  };
}

function dexpressContenders(alg: Alg, backend: Backend, r: Running): Contender[] {
  const out: Contender[] = [
    { label: `dexpress ${alg} ${backend} code exchange`, run: () => runLoad(r.server, r.origin, load, () => codeUnit('/dex/token', r.codes)) },
    refreshContender(`dexpress ${alg} ${backend} refresh`, r.server, r.origin, '/dex/token', r.refreshTokens),
  ];
  if (backend === 'sqlite') out.push({ label: `dexpress ${alg} ${backend} full logins`, run: () => runLoad(r.server, r.origin, load, () => loginUnit()) });
  return out;
}

/** Two instances on one PostgreSQL database: throughput across both, and codes raced on both. */
interface TwoInstanceFigures {
  alg: Alg;
  code: LoadFigures;
  refresh: LoadFigures;
  /** Codes each sent to both instances at the same moment. */
  racedCodes: number;
  /** Codes that got exactly one token response, none (lost), or two (double-spent). */
  redeemedOnce: number;
  lost: number;
  doubleSpent: number;
  /** Refresh tokens each presented to both instances at once: answers that did not carry the same new token. */
  racedRefreshes: number;
  refreshMismatches: number;
}

/** `a` and `b` measured side by side, as one contender: rates add up, CPU per unit is the combined. */
function combined(a: LoadFigures, b: LoadFigures): LoadFigures {
  const total = a.perSecond + b.perSecond;
  const weighted = (k: 'serverCpuMsPerUnit' | 'eventLoopCpuMsPerUnit' | 'generatorCpuMsPerUnit' | 'p50ms' | 'p99ms') => (a[k] * a.perSecond + b[k] * b.perSecond) / total;
  return {
    ...a,
    units: a.units + b.units,
    warmupUnits: a.warmupUnits + b.warmupUnits,
    errors: a.errors + b.errors,
    perSecond: total,
    p50ms: weighted('p50ms'),
    p99ms: Math.max(a.p99ms, b.p99ms),
    serverCpuMsPerUnit: weighted('serverCpuMsPerUnit'),
    eventLoopCpuMsPerUnit: weighted('eventLoopCpuMsPerUnit'),
    generatorCpuMsPerUnit: weighted('generatorCpuMsPerUnit'),
    ...(a.firstError ?? b.firstError ? { firstError: a.firstError ?? b.firstError } : {}),
  };
}

/** Posts one /token form with the bench client's Basic credentials; the status and the body. */
async function postToken(origin: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${origin}/dex/token`, { method: 'POST', headers: FORM, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/** Runs `task` over `items`, `width` at a time. */
async function eachLimited<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

const RACED = 2000;

/**
 * DESIGN.md's "two instances on one PostgreSQL": two `dexpress serve` on one database, the load
 * split between them (half the connections each), then every one of RACED codes sent to both at
 * once (exactly one may get tokens), and RACED refresh tokens presented to both at once (both
 * answers must carry the same new token: the reuse window).
 */
async function twoInstancePhase(alg: Alg, pg: Postgres): Promise<TwoInstanceFigures> {
  const name = `${alg}-two-instances`.toLowerCase();
  const { storage, config } = await openStore('postgres', pg, name);
  const seeded = await seed(storage, MAX_UNITS + RACED, CONCURRENCY + RACED);
  await storage.close();
  const a = await launchDexpress(`${name}-0`, config, alg, []);
  const b = await launchDexpress(`${name}-1`, config, alg, []);
  try {
    const half = { ...load, concurrency: CONCURRENCY / 2, maxUnits: MAX_UNITS / 2 };
    const racedCodes = seeded.codes.splice(0, RACED);
    const racedRefresh = seeded.refreshTokens.splice(0, RACED);
    const codes = seeded.codes;
    const [codeA, codeB] = await Promise.all([a, b].map((x) => runLoad(x.server, x.origin, half, () => codeUnit('/dex/token', codes))));
    const chains: (string | undefined)[] = [...seeded.refreshTokens];
    const [refreshA, refreshB] = await Promise.all(
      [a, b].map((x, k) =>
        runLoad(x.server, x.origin, half, (i) => {
          const slot = k * half.concurrency + i;
          const unit = refreshUnit('/dex/token', chains[slot]);
          return async (send: Send) => {
            const outcome = await unit(send);
            chains[slot] = unit.current();
            return outcome;
          };
        }),
      ),
    );
    let redeemedOnce = 0;
    let lost = 0;
    let doubleSpent = 0;
    await eachLimited(racedCodes, 8, async (code) => {
      const form = { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectURI, code_verifier: VERIFIER };
      const answers = await Promise.all([postToken(a.origin, form), postToken(b.origin, form)]);
      const ok = answers.filter((r) => r.status === 200).length;
      if (ok === 1) redeemedOnce++;
      else if (ok === 0) lost++;
      else doubleSpent++;
    });
    let refreshMismatches = 0;
    await eachLimited(racedRefresh, 8, async (token) => {
      const form = { grant_type: 'refresh_token', refresh_token: token };
      const answers = await Promise.all([postToken(a.origin, form), postToken(b.origin, form)]);
      const same = answers.every((r) => r.status === 200) && answers[0]!.body.refresh_token === answers[1]!.body.refresh_token;
      if (!same) refreshMismatches++;
    });
    return {
      alg,
      code: combined(codeA!, codeB!),
      refresh: combined(refreshA!, refreshB!),
      racedCodes: racedCodes.length,
      redeemedOnce,
      lost,
      doubleSpent,
      racedRefreshes: racedRefresh.length,
      refreshMismatches,
    };
  } finally {
    await Promise.all([a.server.stop(), b.server.stop()]);
  }
}

function median<T>(items: T[], by: (t: T) => number): T {
  const sorted = [...items].sort((a, b) => by(a) - by(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const medianOf = (xs: number[]) => median(xs, (x) => x);

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
    dexpressNodeFlags: NODE_FLAGS,
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
    concurrency: CONCURRENCY,
    secondsPerPhase: SECONDS,
  };
  console.error(`bench: ${machine.cpus} CPU(s) ${machine.model}, node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);
  console.error(`bench: building dist/ (dexpress runs ${RUN_FROM === 'dist' ? 'compiled' : 'through tsx'})`);
  buildDist();

  if (ONLY_MEMORY) {
    const memory = await memoryPhase().finally(() => rmSync(work, { recursive: true, force: true }));
    console.log(`RSS with ${memory.tokens} refresh tokens on SQLite: idle ${round(memory.rssIdleMB)} MB, peak under load ${round(memory.rssPeakUnderLoadMB)} MB (refresh ${round(memory.refresh.perSecond)} req/s, ${round(memory.refresh.serverCpuMsPerUnit, 3)} ms CPU/req); node flags: ${NODE_FLAGS.join(' ') || 'none'}`);
    return;
  }
  const signing = {} as Record<Alg, SigningFigures>;
  for (const alg of ['RS256', 'ES256'] as const) {
    console.error(`bench: signing ceiling ${alg}`);
    signing[alg] = await measureSigning(alg, SIGN_MS);
  }

  let pg: Postgres | undefined;
  const figures: Record<string, LoadFigures[]> = {};
  /** Per round: the ratios the targets are about, each from figures of that same round. */
  const perRound: Record<string, number[]> = {};
  const ceilings: Record<Alg, number[]> = { RS256: [], ES256: [] };
  const rss: { label: string; idleMB: number; peakUnderLoadMB: number }[] = [];
  let memory: Awaited<ReturnType<typeof memoryPhase>> | undefined;
  const twoInstances: TwoInstanceFigures[] = [];
  /** Everything started, stopped in `finally` whatever happened (stop is idempotent). */
  const children: { stop(): Promise<void> }[] = [];
  try {
    if (!ONLY_SQLITE) pg = await startPostgres();
    const bare = await startBare();
    children.push(bare);
    const bareOrigin = `http://127.0.0.1:${(bare.hello as { port: number }).port}`;
    const bareContender: Contender = {
      label: 'bare Express POST /token',
      run: () => runLoad(bare, bareOrigin, load, () => async (send) => okOrError(await send(tokenRequest('/token', { grant_type: 'refresh_token', refresh_token: 'x'.repeat(66) })))),
    };
    for (const alg of ['RS256', 'ES256'] as const) {
      const backends: Backend[] = ONLY_SQLITE ? ['sqlite'] : ['sqlite', 'postgres'];
      const running = new Map<Backend, Running>();
      for (const backend of backends) {
        console.error(`bench: starting dexpress ${alg} on ${backend} (seeding ${MAX_UNITS * ROUNDS} codes)`);
        const r = await startSeeded(alg, backend, pg);
        running.set(backend, r);
        children.push(r.server);
      }
      const peer = freshPeerContender(`oidc-provider ${alg} refresh`, () => startPeer(alg, CONCURRENCY));
      children.push(peer);
      const minimal = await startMinimal(alg, CONCURRENCY);
      children.push(minimal);
      const contenders: Contender[] = [
        bareContender,
        ...backends.flatMap((b) => dexpressContenders(alg, b, running.get(b)!)),
        childRefreshContender(`minimal 2-JWT broker ${alg} refresh`, minimal),
        peer,
      ];
      for (let n = 0; n < ROUNDS; n++) {
        console.error(`bench: ${alg} round ${n + 1}/${ROUNDS}`);
        const ceiling = await measureCeiling(alg, 1000);
        ceilings[alg].push(ceiling);
        const got = new Map<string, LoadFigures>();
        // Rotate the order each round, so no contender always runs first or last.
        for (let k = 0; k < contenders.length; k++) {
          const c = contenders[(k + n) % contenders.length]!;
          const f = await c.run();
          got.set(c.label, f);
          (figures[c.label] ??= []).push(f);
        }
        const rate = (label: string) => got.get(label)?.perSecond ?? NaN;
        const add = (key: string, value: number) => (perRound[key] ??= []).push(value);
        for (const b of backends) {
          add(`${alg} ${b}: refresh / oidc-provider refresh`, rate(`dexpress ${alg} ${b} refresh`) / rate(`oidc-provider ${alg} refresh`));
          if (alg === 'RS256') {
            add(`${alg} ${b}: code exchange / (signing ceiling / 2)`, rate(`dexpress ${alg} ${b} code exchange`) / (ceiling / 2));
            add(`${alg} ${b}: refresh / (signing ceiling / 2)`, rate(`dexpress ${alg} ${b} refresh`) / (ceiling / 2));
          } else {
            add(`${alg} ${b}: code exchange / bare Express`, rate(`dexpress ${alg} ${b} code exchange`) / rate('bare Express POST /token'));
            add(`${alg} ${b}: refresh / bare Express`, rate(`dexpress ${alg} ${b} refresh`) / rate('bare Express POST /token'));
          }
        }
        // What a broker doing nothing but its two signatures per answer (no HTTP, no load
        // generator) would reach against the peer: the most any two-JWT broker can on this machine.
        add(`${alg}: signing ceiling / 2 / oidc-provider refresh`, ceiling / 2 / rate(`oidc-provider ${alg} refresh`));
        add(`${alg}: minimal 2-JWT broker refresh / oidc-provider refresh`, rate(`minimal 2-JWT broker ${alg} refresh`) / rate(`oidc-provider ${alg} refresh`));
        add(`${alg} sqlite: refresh / minimal 2-JWT broker refresh`, rate(`dexpress ${alg} sqlite refresh`) / rate(`minimal 2-JWT broker ${alg} refresh`));
        const cpu = (label: string) => got.get(label)?.serverCpuMsPerUnit ?? NaN;
        const loop = (label: string) => got.get(label)?.eventLoopCpuMsPerUnit ?? NaN;
        add(`${alg} sqlite: CPU per refresh, oidc-provider / dexpress`, cpu(`oidc-provider ${alg} refresh`) / cpu(`dexpress ${alg} sqlite refresh`));
        add(`${alg} sqlite: event-loop CPU per refresh, oidc-provider / dexpress`, loop(`oidc-provider ${alg} refresh`) / loop(`dexpress ${alg} sqlite refresh`));
      }
      for (const [backend, r] of running) {
        rss.push({ label: `dexpress ${alg} ${backend}`, idleMB: r.rssIdleMB, peakUnderLoadMB: r.server.peakRssMB() });
        await r.server.stop();
      }
      await peer.stop();
      rss.push({ label: `oidc-provider ${alg}`, idleMB: NaN, peakUnderLoadMB: peer.peakRssMB() });
      await minimal.stop();
    }
    await bare.stop();
    if (pg) {
      for (const alg of ['RS256', 'ES256'] as const) {
        console.error(`bench: two dexpress ${alg} on one PostgreSQL database`);
        twoInstances.push(await twoInstancePhase(alg, pg));
      }
    }
    if (!ONLY_SQLITE) {
      console.error(`bench: ${MEMORY_TOKENS} refresh tokens on SQLite`);
      memory = await memoryPhase();
    }
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const medians = Object.fromEntries(Object.entries(figures).map(([label, fs]) => [label, median(fs, (f) => f.perSecond)]));
  const ratios = Object.fromEntries(Object.entries(perRound).map(([k, v]) => [k, medianOf(v)]));
  const r = (k: string) => ratios[k] ?? NaN;
  const targets: Record<string, { value: number; target: number; met: boolean }> = {};
  const target = (label: string, value: number, bound: number, below = false) => (targets[label] = { value, target: bound, met: below ? value < bound : value >= bound });
  for (const b of ONLY_SQLITE ? ['sqlite'] : ['sqlite', 'postgres']) {
    target(`refresh ≥ 1.3 × oidc-provider at RS256 (${b})`, r(`RS256 ${b}: refresh / oidc-provider refresh`), 1.3);
    target(`refresh ≥ 2 × oidc-provider at ES256 (${b})`, r(`ES256 ${b}: refresh / oidc-provider refresh`), 2);
    target(`code exchange ≥ 75 % of the RS256 signing ceiling (${b})`, r(`RS256 ${b}: code exchange / (signing ceiling / 2)`), 0.75);
    target(`refresh ≥ 75 % of the RS256 signing ceiling (${b})`, r(`RS256 ${b}: refresh / (signing ceiling / 2)`), 0.75);
  }
  for (const t of twoInstances) {
    target(`two instances on PostgreSQL, ${t.alg}: codes raced on both and not redeemed exactly once (lost or double-spent), of ${t.racedCodes}`, t.lost + t.doubleSpent, 1, true);
    target(`two instances on PostgreSQL, ${t.alg}: refresh tokens raced on both whose answers differ, of ${t.racedRefreshes}`, t.refreshMismatches, 1, true);
  }
  if (memory) target('RSS < 150 MB with 100,000 refresh tokens on SQLite (idle)', memory.rssIdleMB, 150, true);
  if (memory) target('RSS < 150 MB with 100,000 refresh tokens on SQLite (peak under load)', memory.rssPeakUnderLoadMB, 150, true);
  const signingCeilingPerRound = { RS256: ceilings.RS256.map((c) => round(c)), ES256: ceilings.ES256.map((c) => round(c)) };
  const results = { date: new Date().toISOString(), durationSeconds: round((Date.now() - started) / 1000), machine, signing, signingCeilingPerRound, medians, rounds: figures, rss, memory, twoInstances, ratiosPerRound: perRound, ratios, targets, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) };
  writeFileSync(join(import.meta.dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(table(results));
}

interface Results {
  machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[]; dexpressRunsFrom: string };
  loadAverageAtEnd: number[];
  signing: Record<Alg, SigningFigures>;
  signingCeilingPerRound: Record<Alg, number[]>;
  medians: Record<string, LoadFigures>;
  rss: { label: string; idleMB: number; peakUnderLoadMB: number }[];
  memory: { tokens: number; rssIdleMB: number; rssPeakUnderLoadMB: number } | undefined;
  twoInstances: TwoInstanceFigures[];
  ratios: Record<string, number>;
  targets: Record<string, { value: number; target: number; met: boolean }>;
}

function table(r: Results): string {
  const lines: string[] = [];
  const f = (n: number) => String(round(n)).padStart(7);
  const ms = (n: number) => String(round(n, 1)).padStart(6);
  lines.push(`dexpress bench: ${r.machine.cpus} CPU(s) ${r.machine.model}, node ${r.machine.node}, dexpress from ${r.machine.dexpressRunsFrom}, load average ${r.machine.loadAverageAtStart.join(' ')} at start, ${r.loadAverageAtEnd.join(' ')} at end`);
  lines.push('');
  lines.push('signatures/s               jose 1  jose all  sync 1  sync all  pool 1  pool all  ceiling  (ceiling per round)');
  for (const alg of ['RS256', 'ES256'] as const) {
    const s = r.signing[alg];
    lines.push(`  ${alg.padEnd(24)}${f(s.joseOneCore)} ${f(s.joseAllCores)}  ${f(s.cryptoSyncOneCore)} ${f(s.cryptoSyncAllCores)}  ${f(s.threadPoolOneAtATime)} ${f(s.threadPoolAllCores)}  ${f(s.ceiling)}  (${r.signingCeilingPerRound[alg].join(', ')})`);
  }
  lines.push('');
  lines.push(`HTTP, median of rounds                     req/s  p50 ms  p99 ms  CPU ms/req  event loop ms/req  load generator ms/req  errors`);
  const cpu = (n: number) => String(round(n, 3)).padStart(10);
  for (const [label, l] of Object.entries(r.medians)) {
    lines.push(`  ${label.padEnd(40)}${f(l.perSecond)}  ${ms(l.p50ms)}  ${ms(l.p99ms)}  ${cpu(l.serverCpuMsPerUnit)}  ${cpu(l.eventLoopCpuMsPerUnit).padStart(17)}  ${cpu(l.generatorCpuMsPerUnit).padStart(21)}  ${l.errors}${l.firstError ? `  (${l.firstError.slice(0, 80)})` : ''}`);
  }
  if (r.twoInstances.length > 0) {
    lines.push('');
    lines.push('two dexpress on one PostgreSQL (half the connections each; one run)   req/s  p50 ms  p99 ms  CPU ms/req  errors');
    for (const t of r.twoInstances) {
      for (const [what, l] of [['code exchange', t.code], ['refresh', t.refresh]] as const) {
        lines.push(`  ${`${t.alg} ${what}, both instances`.padEnd(68)}${f(l.perSecond)}  ${ms(l.p50ms)}  ${ms(l.p99ms)}  ${cpu(l.serverCpuMsPerUnit)}  ${l.errors}${l.firstError ? `  (${l.firstError.slice(0, 80)})` : ''}`);
      }
      lines.push(`  ${t.alg} codes sent to both at once: ${t.racedCodes}; redeemed once ${t.redeemedOnce}, lost ${t.lost}, double-spent ${t.doubleSpent}`);
      lines.push(`  ${t.alg} refresh tokens presented to both at once: ${t.racedRefreshes}; answers differing ${t.refreshMismatches}`);
    }
  }
  lines.push('');
  lines.push('RSS MB                                  idle  peak');
  for (const m of r.rss) lines.push(`  ${m.label.padEnd(36)}${f(m.idleMB)}  ${f(m.peakUnderLoadMB)}`);
  if (r.memory) lines.push(`  ${`dexpress, ${r.memory.tokens} refresh tokens (SQLite)`.padEnd(36)}${f(r.memory.rssIdleMB)}  ${f(r.memory.rssPeakUnderLoadMB)}`);
  lines.push('');
  lines.push('ratios (median of the per-round ratios)');
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`  ${k.padEnd(66)}${round(v, 2)}`);
  lines.push('');
  lines.push('targets');
  for (const [k, t] of Object.entries(r.targets)) lines.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${k}: ${round(t.value, 2)}`);
  return lines.join('\n');
}

// Run as the script (npm run bench); bench/profile.ts imports the phases without running them.
if (process.argv[1] === import.meta.filename) {
  if (PROFILE) mkdirSync(join(import.meta.dirname, 'profiles'), { recursive: true });
  await main();
}
