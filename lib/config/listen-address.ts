/** Dex's `host:port` listen addresses (`web.http`, `web.https`, `telemetry.http`). */
import { ConfigError } from '../errors.js';

/** Host and port of `value`; a ConfigError naming `path` when it is not `host:port`. */
export function parseListenAddress(value: string, path: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError([{ path, message: `"${value}" is not a host:port address (for example 127.0.0.1:5556)` }]);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port };
}
