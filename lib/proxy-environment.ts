/**
 * Which proxy an upstream call goes through, read from the environment with the rules Dex's Go
 * HTTP client follows (`http.ProxyFromEnvironment`, golang.org/x/net/http/httpproxy):
 *
 * - `HTTPS_PROXY` for `https:` URLs and `HTTP_PROXY` for `http:` URLs (the upper-case name wins
 *   over the lower-case one when both are set); an `https:` URL never falls back to `HTTP_PROXY`.
 *   A value without a scheme (`proxy.corp:3128`) is `http://proxy.corp:3128`.
 * - `localhost` and loopback addresses (127.0.0.0/8, ::1) are never proxied.
 * - `NO_PROXY` is a comma-separated list: `*` (nothing is proxied), an IP address or a CIDR
 *   block (`10.0.0.0/8`, matched against IP literals), a domain (`example.com` matches it and its
 *   subdomains; `.example.com` and `*.example.com` only its subdomains), each optionally with a
 *   `:port`.
 * - In a CGI environment (`REQUEST_METHOD` set) `HTTP_PROXY` is not used (golang.org/issue/16405).
 *
 * Pure: no sockets, so the rules are tested on their own.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export interface ProxyEnvironment {
  /** For `http:` URLs. */
  httpProxy?: URL;
  /** For `https:` URLs. */
  httpsProxy?: URL;
  /** The raw `NO_PROXY` value, for messages. */
  noProxy: string;
  /** `REQUEST_METHOD` is set: `HTTP_PROXY` may come from a client's `Proxy:` header, so it is not used. */
  cgi: boolean;
  /** The parsed `NO_PROXY` entries. */
  bypass: BypassRule[];
}

type BypassRule =
  | { kind: 'all' }
  | { kind: 'cidr'; network: bigint; prefix: number; bits: 32 | 128 }
  | { kind: 'ip'; ip: string; port: string }
  | { kind: 'domain'; suffix: string; port: string; matchHost: boolean };

/** A proxy variable set to something dexpress cannot use (a `socks5://` proxy, a malformed URL). */
export class ProxyEnvironmentError extends Error {
  override readonly name = 'ProxyEnvironmentError';
}

const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:', 'socks5h:']);

function firstSet(env: NodeJS.ProcessEnv, ...names: string[]): [string, string] | undefined {
  for (const name of names) {
    const value = env[name];
    if (value) return [name, value];
  }
  return undefined;
}

/** Go's `parseProxy`: a value whose scheme is not a proxy scheme is read again as `http://<value>`. */
function parseProxy(variable: [string, string] | undefined): URL | undefined {
  if (!variable) return undefined;
  const [name, value] = variable;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !PROXY_SCHEMES.has(url.protocol)) {
    try {
      url = new URL(`http://${value}`);
    } catch {
      throw new ProxyEnvironmentError(`${name} is not a proxy URL`);
    }
  }
  if (url.protocol === 'socks5:' || url.protocol === 'socks5h:') {
    throw new ProxyEnvironmentError(`${name}: SOCKS proxies are not supported (use an HTTP proxy that answers CONNECT)`);
  }
  if (url.hostname === '') throw new ProxyEnvironmentError(`${name} names no proxy host`);
  return url;
}

/** An IP address as a number, or undefined when `host` is not an IP literal. */
function ipValue(host: string): { value: bigint; bits: 32 | 128 } | undefined {
  const family = isIP(host);
  if (family === 4) return { value: host.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n), bits: 32 };
  if (family !== 6) return undefined;
  const [head = '', tail = ''] = host.includes('::') ? host.split('::') : [host, ''];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  let hex = groups(head);
  let rest = groups(tail);
  // A trailing dotted quad (::1.2.3.4) is two groups.
  const expand = (list: string[]) => list.flatMap((g) => (g.includes('.') ? ((v) => [(v >> 16n).toString(16), (v & 0xffffn).toString(16)])(ipValue(g)!.value) : [g]));
  hex = expand(hex);
  rest = expand(rest);
  const all = [...hex, ...Array<string>(8 - hex.length - rest.length).fill('0'), ...rest];
  const value = all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
  // An IPv4-mapped address (::ffff:10.0.0.1, which URL writes ::ffff:a00:1) is the IPv4 address,
  // as Go's net.IP takes it.
  if (value >> 32n === 0xffffn) return { value: value & 0xffffffffn, bits: 32 };
  return { value, bits: 128 };
}

function sameIp(a: { value: bigint; bits: number } | undefined, b: { value: bigint; bits: number }): boolean {
  return a !== undefined && a.bits === b.bits && a.value === b.value;
}

function isLoopback(host: string): boolean {
  const ip = ipValue(host);
  if (!ip) return false;
  return ip.bits === 32 ? ip.value >> 24n === 127n : ip.value === 1n;
}

/** Go's `config.init`: the `NO_PROXY` entries, malformed ones skipped. */
function parseNoProxy(value: string): BypassRule[] {
  const rules: BypassRule[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return [{ kind: 'all' }];
    const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const ip = ipValue(cidr[1]!);
      const prefix = Number(cidr[2]);
      if (ip && prefix <= ip.bits) {
        const host = ip.bits - prefix;
        rules.push({ kind: 'cidr', network: (ip.value >> BigInt(host)) << BigInt(host), prefix, bits: ip.bits });
      }
      continue;
    }
    let host = entry;
    let port = '';
    const bracketed = /^\[([^\]]*)\]:(\d*)$/.exec(entry);
    const hostPort = /^([^:]*):(\d*)$/.exec(entry);
    if (bracketed) [host, port] = [bracketed[1]!, bracketed[2]!];
    else if (hostPort) [host, port] = [hostPort[1]!, hostPort[2]!];
    if (host === '') continue;
    if (isIP(host)) {
      rules.push({ kind: 'ip', ip: host, port });
      continue;
    }
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    host = domainToASCII(host.replace(/^\./, '')) || host.replace(/^\./, '');
    rules.push({ kind: 'domain', suffix: `.${host}`, port, matchHost });
  }
  return rules;
}

/** The proxy settings in `env` (default `process.env`); throws `ProxyEnvironmentError` for a value dexpress cannot use. */
export function readProxyEnvironment(env: NodeJS.ProcessEnv = process.env): ProxyEnvironment {
  const noProxy = firstSet(env, 'NO_PROXY', 'no_proxy')?.[1] ?? '';
  const cgi = Boolean(env.REQUEST_METHOD);
  const httpProxy = cgi ? undefined : parseProxy(firstSet(env, 'HTTP_PROXY', 'http_proxy'));
  const httpsProxy = parseProxy(firstSet(env, 'HTTPS_PROXY', 'https_proxy'));
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), noProxy, cgi, bypass: parseNoProxy(noProxy) };
}

/** Whether any proxy is set, so that calls may go through one. */
export function usesProxy(environment: ProxyEnvironment): boolean {
  return environment.httpProxy !== undefined || environment.httpsProxy !== undefined;
}

/** The proxy a request to `target` goes through, or undefined for a direct connection. */
export function proxyFor(target: URL, environment: ProxyEnvironment): URL | undefined {
  const proxy = target.protocol === 'https:' ? environment.httpsProxy : target.protocol === 'http:' ? environment.httpProxy : undefined;
  if (!proxy) return undefined;
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  if (host === 'localhost' || isLoopback(host)) return undefined;
  const ip = ipValue(host);
  for (const rule of environment.bypass) {
    if (rule.kind === 'all') return undefined;
    if (rule.kind === 'cidr' && ip && ip.bits === rule.bits && (ip.value >> BigInt(rule.bits - rule.prefix)) << BigInt(rule.bits - rule.prefix) === rule.network) return undefined;
    if (rule.kind === 'ip' && ip && sameIp(ipValue(rule.ip), ip) && (rule.port === '' || rule.port === port)) return undefined;
    if (rule.kind === 'domain' && (host.endsWith(rule.suffix) || (rule.matchHost && host === rule.suffix.slice(1))) && (rule.port === '' || rule.port === port)) return undefined;
  }
  return proxy;
}

/** A proxy URL without its credentials, for logs. */
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}
