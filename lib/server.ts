/** Serving a broker alone: listens on `web.http` and/or `web.https` (Dex's `host:port` form). */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createBroker, type Broker, type BrokerOptions } from './broker.js';
import { drainable, type DrainableServer } from './drain.js';
import { ConfigError } from './errors.js';
import { BrokerMetrics } from './metrics.js';
import { parseListenAddress } from './config/listen-address.js';
import { hasLoginMethod, NO_LOGIN_METHOD } from './config/load.js';
import { readTlsFiles } from './tls-files.js';

export interface RunningServer {
  broker: Broker;
  /** The addresses it listens on, e.g. `http://127.0.0.1:5556`. */
  urls: string[];
  /**
   * Stops accepting, lets the requests in flight finish (at most `graceMs`, default 10 s, then
   * cuts them), then closes storage. Resolves to the number of requests that had to be cut.
   */
  close(options?: { graceMs?: number }): Promise<ShutdownReport>;
  /**
   * Reads `web.tlsCert` and `web.tlsKey` again and serves new TLS connections with them (what
   * Dex does on SIGHUP); connections already open keep theirs. Throws the ConfigError
   * `readTlsFiles` throws, and then the certificate in use stays. False without `web.https`.
   */
  reloadTls(): boolean;
}

export interface ShutdownReport {
  /** Requests still in flight at the deadline, whose connections were closed. */
  cutRequests: number;
}

/** How long `close()` lets requests in flight finish: as long as a slow login may take. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** Listens on the address of config field `field`; a failure names the field and the address. */
function listen(server: http.Server, field: string, value: string): Promise<AddressInfo> {
  const { host, port } = parseListenAddress(value, field);
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'address not available on this host' : err.message;
      reject(new Error(`${field} ${value}: ${reason}`, { cause: err }));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** `scheme://host:port` of a listening address, an IPv6 host in brackets. */
function urlOf(scheme: 'http' | 'https', addr: AddressInfo): string {
  return `${scheme}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
}

/**
 * The telemetry listener, with Dex's paths: `/metrics` (Prometheus), `/healthz` and
 * `/healthz/ready` (200 when storage takes a write, else 503; JSON keyed by check, as Dex's health
 * handler), `/healthz/live` (always `ok`: the process serves, the probe Dex's Helm chart uses).
 * GET and HEAD.
 */
function telemetryHandler(broker: Broker): http.RequestListener {
  const storageCheck = (res: http.ServerResponse) =>
    broker.healthy().then((healthy) =>
      healthy
        ? res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ storage: { message: 'ok' } }))
        : res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ storage: { message: 'storage unavailable', error: { message: 'storage unavailable' } } })),
    );
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      broker.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': broker.metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (path === '/healthz' || path === '/healthz/ready') {
      void storageCheck(res);
    } else if (path === '/healthz/live') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else {
      res.writeHead(404).end();
    }
  };
}

export async function serve(config: unknown, options: BrokerOptions): Promise<RunningServer> {
  const broker = await createBroker(config, { metrics: new BrokerMetrics({ processMetrics: true, dexRequestMetrics: true }), ...options });
  const { web } = broker.settings;
  const unservable = [...(hasLoginMethod(broker.settings) ? [] : [NO_LOGIN_METHOD]), ...(!web.http && !web.https ? [{ path: 'web', message: 'set web.http or web.https' }] : [])];
  if (unservable.length > 0) {
    await broker.close();
    throw new ConfigError(unservable);
  }
  const servers: http.Server[] = [];
  const drains: DrainableServer[] = [];
  const urls: string[] = [];
  let httpsServer: https.Server | undefined;
  try {
    // Checked before listening anywhere, so a bad file stops start-up as a config error.
    const tlsFiles = web.https ? readTlsFiles(web) : undefined;
    if (web.http) {
      const server = http.createServer(broker.listener);
      servers.push(server);
      drains.push(drainable(server));
      urls.push(urlOf('http', await listen(server, 'web.http', web.http)));
    }
    if (web.https && tlsFiles) {
      const server = https.createServer(tlsFiles, broker.listener);
      httpsServer = server;
      servers.push(server);
      drains.push(drainable(server));
      urls.push(urlOf('https', await listen(server, 'web.https', web.https)));
    }
    if (broker.settings.telemetry) {
      const server = http.createServer(telemetryHandler(broker));
      servers.push(server);
      drains.push(drainable(server));
      urls.push(`${urlOf('http', await listen(server, 'telemetry.http', broker.settings.telemetry.http))}/metrics`);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await broker.close();
    throw err;
  }
  for (const s of servers) {
    s.keepAliveTimeout = 5000;
    s.headersTimeout = 10_000;
    s.requestTimeout = 30_000;
  }
  return {
    broker,
    urls,
    async close({ graceMs = DEFAULT_SHUTDOWN_GRACE_MS } = {}) {
      const cut = await Promise.all(drains.map((d) => d.drain(graceMs)));
      // Storage last: the requests that were let finish still use it.
      await broker.close();
      return { cutRequests: cut.reduce((a, b) => a + b, 0) };
    },
    reloadTls() {
      if (!httpsServer) return false;
      httpsServer.setSecureContext(readTlsFiles(web));
      return true;
    },
  };
}
