/** Child processes of the benchmark: dexpress (`dexpress serve`), the peer, the bare Express app; their memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

const ROOT = join(import.meta.dirname, '..');
const START_TIMEOUT_MS = 60_000;

export interface Child {
  pid: number;
  /** The first JSON line it printed (peer, bare), or undefined. */
  hello: Record<string, unknown> | undefined;
  /** Resident set size now, in MB (from /proc). */
  rssMB(): number;
  /** Peak resident set size so far, in MB. */
  peakRssMB(): number;
  /** CPU seconds used so far, all threads (user + system). */
  cpuSeconds(): number;
  /** CPU seconds of the main thread alone (the event loop; signing on the thread pool excluded). */
  mainThreadCpuSeconds(): number;
  output(): string;
  stop(): Promise<void>;
}

/** utime + stime of /proc/<pid>/stat, in clock ticks of 1/100 s. */
function cpuSecondsOf(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function procStatusMB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Spawns `args` and waits until its output contains `ready` (a string) or it prints a JSON line. */
function start(args: string[], ready: string | 'json', env: Record<string, string> = {}): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  const keep = (d: Buffer) => {
    // Keep the start and the last lines only: the log must not fill memory during a run.
    output = output.length > 20_000 ? output.slice(0, 10_000) + output.slice(-5_000) + d.toString() : output + d.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start:\n${output}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      let hello: Record<string, unknown> | undefined;
      if (ready === 'json') {
        const line = output.split('\n').find((l) => l.startsWith('{'));
        if (!line || !output.includes('\n', output.indexOf(line))) return;
        hello = JSON.parse(line) as Record<string, unknown>;
      } else if (!output.includes(ready)) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      const pid = child.pid!;
      resolve({
        pid,
        hello,
        rssMB: () => procStatusMB(pid, 'VmRSS'),
        peakRssMB: () => procStatusMB(pid, 'VmHWM'),
        cpuSeconds: () => cpuSecondsOf(pid),
        mainThreadCpuSeconds: () => cpuSecondsOf(pid, pid),
        output: () => output,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timeout);
        },
      });
    };
    // `dexpress serve` with logger.format json writes its start-up lines to stderr, as Dex does.
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited:\n${output}`));
    });
  });
}

/**
 * How dexpress runs: `dist`, the compiled package as users install it (the bench builds it
 * first), or `tsx`, the sources through tsx as `bin/dexpress.js` does in a checkout (slower to
 * start, and the loader costs about 45 MB of RSS).
 */
export type RunFrom = 'dist' | 'tsx';

const DIST_LAUNCHER = `const cli = await import(${JSON.stringify(join(ROOT, 'dist', 'lib', 'cli.js'))});
const strategies = await import(${JSON.stringify(join(ROOT, 'dist', 'strategies', 'index.js'))});
process.exitCode = await cli.runCli(process.argv.slice(1), strategies.connectors);`;

export interface DexpressOptions {
  port: number;
  configFile: string;
  storage: Record<string, unknown>;
  algorithm: 'RS256' | 'ES256';
  client: { id: string; secret: string; redirectURI: string };
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  runFrom: RunFrom;
}

/** `dexpress serve` on a config written for the run. */
export function startDexpress(o: DexpressOptions): Promise<Child> {
  const config = {
    issuer: `http://127.0.0.1:${o.port}/dex`,
    storage: o.storage,
    web: { http: `127.0.0.1:${o.port}` },
    logger: { level: 'info', format: 'json' },
    oauth2: { skipApprovalScreen: true },
    signer: { type: 'local', config: { algorithm: o.algorithm } },
    staticClients: [{ id: o.client.id, secret: o.client.secret, redirectURIs: [o.client.redirectURI], name: 'Bench App' }],
    connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
  };
  writeFileSync(o.configFile, stringify(config));
  const entry = o.runFrom === 'dist' ? ['--input-type=module', '-e', DIST_LAUNCHER] : [join(ROOT, 'bin', 'dexpress.js')];
  return start([...(o.nodeFlags ?? []), ...entry, 'serve', o.configFile], 'listening on');
}

export function startPeer(alg: 'RS256' | 'ES256', tokens: number): Promise<Child> {
  return start(['--import', 'tsx', join(ROOT, 'bench', 'peer.ts'), alg, String(tokens)], 'json');
}

/** bench/minimal.ts: node:http + jose, refresh tokens in memory, two JWTs per answer (the yardstick). */
export function startMinimal(alg: 'RS256' | 'ES256', tokens: number): Promise<Child> {
  return start(['--import', 'tsx', join(ROOT, 'bench', 'minimal.ts'), alg, String(tokens)], 'json');
}

export function startBare(): Promise<Child> {
  return start(['--import', 'tsx', join(ROOT, 'bench', 'bare.ts')], 'json');
}
