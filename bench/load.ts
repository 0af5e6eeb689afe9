/**
 * A small closed-loop load generator on loopback: `concurrency` workers, each on its own
 * keep-alive connection, each running one unit of work (one or several HTTP requests) after the
 * other until the time or the request budget is spent. Latency is per unit; units that start
 * during the warm-up are not counted.
 *
 * The generator shares the machine's cores with the server it measures, so it is kept lean: each
 * worker writes its requests on a raw keep-alive socket and reads the answers with a minimal
 * HTTP/1.1 parser (status, headers, Content-Length or chunked body). On this 2-core machine that
 * costs about a third of the CPU per request of an undici Pool (`BENCH_CLIENT=undici` runs the
 * bench with undici instead, for comparison); the CPU it spends per request is reported.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type Send = (req: HttpRequest) => Promise<HttpResponse>;

/** One unit of work: `ok`, `exhausted` when the worker has nothing left to do, or what went wrong. */
export type Unit = (send: Send) => Promise<'ok' | 'exhausted' | { error: string }>;

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** Stop after this many units in total (warm-up included). */
  maxUnits: number;
}

export interface LoadResult {
  /** Units counted (after the warm-up) that succeeded. */
  units: number;
  /** Units run during the warm-up. */
  warmupUnits: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** The first failed response, for the report. */
  firstError?: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The request's bytes: request line, Host, the headers, Content-Length, the body. */
function serialise(host: string, req: HttpRequest): string {
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of Object.entries(req.headers ?? {})) head += `${k}: ${v}\r\n`;
  if (req.body !== undefined) head += `content-length: ${Buffer.byteLength(req.body)}\r\n`;
  return `${head}\r\n${req.body ?? ''}`;
}

/**
 * One keep-alive connection answering one request at a time. It reconnects when the server
 * closed it; a response it cannot parse rejects (and the connection is dropped).
 */
class Connection {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve(res: HttpResponse): void; reject(err: Error): void } | undefined;

  constructor(private readonly port: number, private readonly hostname: string) {}

  send(req: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.open().write(serialise(`${this.hostname}:${this.port}`, req));
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): net.Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const socket = net.connect(this.port, this.hostname);
    socket.setNoDelay(true);
    this.buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    const fail = (err?: Error) => {
      if (this.socket === socket) this.socket = undefined;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err ?? new Error('the server closed the connection'));
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
    this.socket = socket;
    return socket;
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.slice(9, 12));
    const headers: Record<string, string | string[]> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i]!.indexOf(':');
      const name = lines[i]!.slice(0, colon).toLowerCase();
      const value = lines[i]!.slice(colon + 1).trim();
      if (name === 'set-cookie') ((headers[name] as string[] | undefined) ?? (headers[name] = [])).push(value);
      else headers[name] = value;
    }
    let body: Buffer;
    let consumed: number;
    if (headers['transfer-encoding'] === 'chunked') {
      const chunks: Buffer[] = [];
      let at = end + 4;
      for (;;) {
        const eol = this.buffer.indexOf('\r\n', at);
        if (eol < 0) return;
        const size = parseInt(this.buffer.toString('latin1', at, eol), 16);
        if (this.buffer.length < eol + 2 + size + 2) return;
        if (size === 0) {
          consumed = eol + 4;
          break;
        }
        chunks.push(this.buffer.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      body = this.buffer.subarray(end + 4, end + 4 + length);
      consumed = end + 4 + length;
    }
    this.buffer = this.buffer.subarray(consumed);
    const w = this.waiting;
    this.waiting = undefined;
    if (headers.connection === 'close') this.close();
    w.resolve({ status, headers, body: body.toString('utf8') });
  }
}

/** Generator CPU per unit: the bench process's own CPU (user + system) over the units it ran. */
export interface GeneratorCpu {
  generatorCpuMsPerUnit: number;
}

function undiciSenders(origin: string, concurrency: number): { senders: Send[]; close(): Promise<void> } {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const send: Send = async (req) => {
    const res = await pool.request({
      method: req.method,
      path: req.path,
      ...(req.headers ? { headers: req.headers } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  return { senders: Array.from({ length: concurrency }, () => send), close: () => pool.close() };
}

function rawSenders(origin: string, concurrency: number): { senders: Send[]; close(): Promise<void> } {
  const url = new URL(origin);
  const connections = Array.from({ length: concurrency }, () => new Connection(Number(url.port), url.hostname));
  return {
    senders: connections.map((c) => (req: HttpRequest) => c.send(req)),
    close: async () => connections.forEach((c) => c.close()),
  };
}

export async function runLoad(origin: string, options: LoadOptions, makeUnit: (worker: number) => Unit): Promise<LoadResult & GeneratorCpu> {
  const client = process.env.BENCH_CLIENT === 'undici' ? undiciSenders(origin, options.concurrency) : rawSenders(origin, options.concurrency);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const countFrom = start + options.warmupMs;
  const end = countFrom + options.durationMs;
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  let warmupUnits = 0;
  let firstError: string | undefined;
  let lastFinish = countFrom;

  const worker = async (index: number) => {
    const unit = makeUnit(index);
    const send = client.senders[index]!;
    while (performance.now() < end && started < options.maxUnits) {
      started++;
      const t0 = performance.now();
      let outcome: Awaited<ReturnType<Unit>>;
      try {
        outcome = await unit(send);
      } catch (err) {
        outcome = { error: String(err) };
      }
      if (outcome === 'exhausted') return;
      const t1 = performance.now();
      if (t0 >= countFrom) {
        if (outcome === 'ok') latencies.push(t1 - t0);
        else errors++;
        lastFinish = Math.max(lastFinish, t1);
      } else warmupUnits++;
      if (outcome !== 'ok') firstError ??= outcome.error;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  await client.close();
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = Math.max(0.001, (lastFinish - countFrom) / 1000);
  const sorted = Float64Array.from(latencies).sort();
  return {
    units: latencies.length,
    warmupUnits,
    errors,
    seconds,
    perSecond: latencies.length / seconds,
    p50ms: percentile(sorted, 50),
    p99ms: percentile(sorted, 99),
    generatorCpuMsPerUnit: (cpu.user + cpu.system) / 1000 / Math.max(1, started),
    ...(firstError ? { firstError } : {}),
  };
}

/** `ok` for a 2xx response, else the error with the start of its body. */
export function okOrError(res: HttpResponse): 'ok' | { error: string } {
  return res.status >= 200 && res.status < 300 ? 'ok' : { error: `${res.status} ${res.body.slice(0, 300)}` };
}
