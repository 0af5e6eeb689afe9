/**
 * Several `dexpress serve` processes on one PostgreSQL, as production runs them: each listens on
 * its own loopback port, and a small round-robin HTTP proxy in front gives them one address and
 * so one issuer. Every request through the proxy goes to the next instance in turn; the proxy
 * records which instance served what.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TEST_CLIENT } from '../helpers/broker.js';
import { freePort, type Postgres } from '../servers/postgres.js';

const BIN = join(process.cwd(), 'bin', 'dexpress.js');
const START_TIMEOUT_MS = 30_000;

export interface Instance {
  /** `http://127.0.0.1:<own port>`, bypassing the proxy. */
  origin: string;
  /** This instance's URL of an issuer path, e.g. `direct('/token')`. */
  direct(path: string): string;
  output(): string;
  stop(): Promise<number | null>;
}

export interface Cluster {
  /** The shared issuer, through the proxy. */
  issuer: string;
  instances: Instance[];
  /** Instance index of each request the proxy forwarded, with its path, in order. */
  served: { instance: number; path: string }[];
  close(): Promise<void>;
}

function startInstance(configFile: string, port: number): Promise<Instance> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const origin = `http://127.0.0.1:${port}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dexpress serve did not start: ${output}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', () => {
      if (!output.includes('listening on')) return;
      clearTimeout(timer);
      resolve({
        origin,
        direct: (path) => `${origin}/dex${path}`,
        output: () => output,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`dexpress serve exited: ${output}`));
    });
  });
}

/** Round-robin reverse proxy on a free loopback port. */
async function startProxy(targets: () => number[], served: Cluster['served']): Promise<{ port: number; close(): Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true });
  let next = 0;
  const server = http.createServer((req, res) => {
    const ports = targets();
    const instance = next++ % ports.length;
    served.push({ instance, path: (req.url ?? '').split('?')[0]! });
    const upstream = http.request(
      { host: '127.0.0.1', port: ports[instance], method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface ClusterOptions {
  count?: number;
  /** Merged over the base config (issuer, storage, web are set here). */
  config?: Record<string, unknown>;
}

/** Starts `count` instances on `database` of `pg`, behind one proxy. */
export async function startCluster(pg: Postgres, database: string, options: ClusterOptions = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dexpress-cluster-'));
  const served: Cluster['served'] = [];
  const ports: number[] = [];
  const proxy = await startProxy(() => ports, served);
  const issuer = `http://127.0.0.1:${proxy.port}/dex`;
  const instances: Instance[] = [];
  const close = async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const count = options.count ?? 2;
    for (let i = 0; i < count; i++) ports.push(await freePort());
    const starting = ports.map((port, i) => {
      const config = {
        issuer,
        storage: { type: 'postgres', config: { host: pg.host, port: pg.port, database, user: pg.user, ssl: { mode: 'disable' }, connectionTimeout: 2 } },
        web: { http: `127.0.0.1:${port}` },
        logger: { level: 'warn', format: 'text' },
        oauth2: { skipApprovalScreen: true },
        staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' }],
        connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
        ...options.config,
      };
      const file = join(dir, `instance-${i}.yaml`);
      writeFileSync(file, stringify(config));
      return startInstance(file, port);
    });
    // Started together on purpose: schema migration and the first signing key race, and must not break.
    const started = await Promise.allSettled(starting);
    for (const r of started) if (r.status === 'fulfilled') instances.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await close();
    throw err;
  }
  return { issuer, instances, served, close };
}
