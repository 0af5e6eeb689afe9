/** `dexpress serve`'s listeners: `web.http`, `web.https` and `telemetry.http`. */
import type { Settings } from './settings.js';
import type { Issue } from './issues.js';
import { ConfigError } from '../errors.js';
import { parseListenAddress } from './listen-address.js';

/** What serve would listen on: at least one of web.http and web.https, each an address it can listen on, on a port of its own. */
export function listenerIssues(settings: Settings): Issue[] {
  const issues: Issue[] = [];
  if (!settings.web.http && !settings.web.https) {
    issues.push({ path: 'web', message: 'set web.http or web.https (or pass --web-http-addr / --web-https-addr)' });
  }
  // What serve would listen on must be an address it can listen on.
  const addresses: [string, string | undefined][] = [['web.http', settings.web.http], ['web.https', settings.web.https], ['telemetry.http', settings.telemetry?.http]];
  const listening: { path: string; host: string; port: number }[] = [];
  for (const [path, value] of addresses) {
    if (value === undefined) continue;
    try {
      const { host, port } = parseListenAddress(value, path);
      // Two listeners on one port (the same host, or either on every interface): serve would
      // fail at start-up with "address already in use", against itself.
      const wildcard = (h: string) => h === '0.0.0.0' || h === '::';
      const clash = listening.find((l) => port !== 0 && l.port === port && (l.host === host || wildcard(l.host) || wildcard(host)));
      if (clash) issues.push({ path, message: `${value} is also the address of ${clash.path}: each listener needs its own port` });
      listening.push({ path, host, port });
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  }
  return issues;
}
