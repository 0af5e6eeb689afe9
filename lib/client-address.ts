/**
 * The client's address, as Dex's `web.clientRemoteIP` reads it: the TCP peer, unless the peer is
 * one of `trustedProxies` (IPs or CIDRs); then the `header` (e.g. X-Forwarded-For) is read from the
 * right, skipping trusted hops, and the first untrusted address is the client. A malformed hop
 * stops the walk (nothing to its left can be attributed to a trusted proxy). Used by the login
 * throttles and the logs.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export interface ClientRemoteIP {
  header: string;
  trustedProxies: string[];
}

/** Parses `trustedProxies`; returns the index of the first entry that is not an IP or CIDR. */
export function trustedProxyList(entries: readonly string[]): { list: BlockList; invalid?: number } {
  const list = new BlockList();
  for (const [i, entry] of entries.entries()) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0) return { list, invalid: i };
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(address!, type);
      continue;
    }
    const prefix = Number(bits);
    if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return { list, invalid: i };
    list.addSubnet(address!, prefix, type);
  }
  return { list };
}

function normalise(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function trusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The headers proxies put the client's address in; one of them reaching the broker untrusted suggests a proxy `web.clientRemoteIP` does not know. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * Reads the client's address. `untrustedForwarding` is told, once, of a request that carried a
 * forwarding header its peer is not trusted to set: behind a proxy left out of
 * `web.clientRemoteIP`, every client shares the proxy's address, so the per-address login limits
 * count them all together (and anyone can lock everyone out of password logins).
 */
export function clientAddressReader(
  config: ClientRemoteIP | undefined,
  untrustedForwarding?: (peer: string, header: string) => void,
): (req: IncomingMessage) => string {
  const proxies = config && config.trustedProxies.length > 0 ? trustedProxyList(config.trustedProxies).list : undefined;
  const header = config?.header.toLowerCase() ?? '';
  let told = untrustedForwarding === undefined;
  const tell = (req: IncomingMessage, peer: string) => {
    const seen = FORWARDING_HEADERS.find((h) => req.headers[h] !== undefined);
    if (seen === undefined) return;
    told = true;
    untrustedForwarding!(peer, seen);
  };
  return (req) => {
    const peer = normalise(req.socket.remoteAddress ?? 'unknown');
    if (!config || !proxies || !trusted(proxies, peer)) {
      if (!told) tell(req, peer);
      return peer;
    }
    const given = req.headers[header];
    const hops = (Array.isArray(given) ? given.join(',') : (given ?? '')).split(',').map((h) => normalise(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) break;
      if (!trusted(proxies, hop)) return hop;
    }
    return peer;
  };
}
