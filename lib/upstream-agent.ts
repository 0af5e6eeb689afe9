/**
 * The undici dispatcher that sends upstream calls through the proxy the environment names, with
 * Go's rules (see `proxy-environment.ts`), as Dex's HTTP clients do.
 *
 * `dexpress serve` installs one as the process's global dispatcher when a proxy variable is set,
 * so every upstream call made with the global `fetch` (openid-client, jose, the platform
 * connectors) follows it. A broker mounted in a host app leaves the process's networking to the
 * host; the host opts in with `setGlobalDispatcher(proxyAgentFromEnvironment())`.
 *
 * Connectors that trust a custom CA (`rootCA`, `rootCAs`, `rootCAData`, `insecureSkipVerify`,
 * `insecureCA`) cannot use the global dispatcher (TLS settings belong to a dispatcher): they ask
 * `dispatcherWithTls`, which derives one with the same proxy routing when the global dispatcher
 * is this one, and a direct agent otherwise.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, Pool, ProxyAgent, getGlobalDispatcher, type Dispatcher } from 'undici';
import { proxyFor, readProxyEnvironment, type ProxyEnvironment } from './proxy-environment.js';

/** TLS settings towards the upstream (not the proxy): extra trusted CAs, or no verification. */
export interface UpstreamTls {
  /** PEM certificates to trust; replaces Node's default list, so give the whole list. */
  ca?: string | string[];
  /** `false` only for `insecureSkipVerify`: anyone on the path can impersonate the upstream. */
  rejectUnauthorized?: boolean;
}

const ENVIRONMENT = Symbol.for('dexpress.upstreamProxyEnvironment');

type BrandedAgent = Agent & { [ENVIRONMENT]?: ProxyEnvironment };

/**
 * An `Agent` that connects directly, or through `HTTPS_PROXY` / `HTTP_PROXY`, per origin, as Go's
 * `http.ProxyFromEnvironment` decides. `http:` origins go to an HTTP proxy as absolute-URI
 * requests (as Go sends them; many proxies allow CONNECT to port 443 only), `https:` ones through
 * a CONNECT tunnel, with `tls` applied to the upstream inside it. Credentials in the proxy URL
 * (`http://user:pass@proxy:3128`) are sent as `Proxy-Authorization: Basic`.
 */
export function proxyAgentFromEnvironment(options: { environment?: ProxyEnvironment; tls?: UpstreamTls } = {}): Agent {
  const environment = options.environment ?? readProxyEnvironment();
  const tls = options.tls ?? {};
  const agent: BrandedAgent = new Agent({
    connect: tls,
    factory: (origin, poolOptions) => {
      const proxy = proxyFor(new URL(origin), environment);
      if (!proxy) return new Pool(origin, poolOptions);
      return new ProxyAgent({ uri: proxy.href, requestTls: tls, proxyTunnel: false });
    },
  });
  Object.defineProperty(agent, ENVIRONMENT, { value: environment });
  return agent;
}

/** The proxy environment of the global dispatcher, when it is a `proxyAgentFromEnvironment()`. */
function globalProxyEnvironment(): ProxyEnvironment | undefined {
  return (getGlobalDispatcher() as BrandedAgent)[ENVIRONMENT];
}

/**
 * A dispatcher with `tls` towards the upstream that follows the global dispatcher's proxy routing
 * when that is dexpress's, decided at each call (a host may install it after creating the broker).
 */
export function dispatcherWithTls(tls: UpstreamTls): () => Dispatcher {
  let direct: Agent | undefined;
  const proxied = new WeakMap<ProxyEnvironment, Agent>();
  return () => {
    const environment = globalProxyEnvironment();
    if (!environment) return (direct ??= new Agent({ connect: tls }));
    let agent = proxied.get(environment);
    if (!agent) {
      agent = proxyAgentFromEnvironment({ environment, tls });
      proxied.set(environment, agent);
    }
    return agent;
  };
}

let extraCAs: string[] | undefined;

/**
 * The CAs Node trusts by default, as a list to give a dispatcher that adds its own: the bundled
 * roots and the certificates of `NODE_EXTRA_CA_CERTS` (which `tls.rootCertificates` leaves out,
 * so a list built from it alone would drop a CA installed the way this README says), then `more`.
 */
export function defaultCAsAnd(more: readonly string[]): string[] {
  if (extraCAs === undefined) {
    const file = process.env.NODE_EXTRA_CA_CERTS;
    let text = '';
    try {
      if (file) text = readFileSync(file, 'utf8');
    } catch {
      // Node has already warned at start-up that it could not read the file.
    }
    extraCAs = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  }
  return [...rootCertificates, ...extraCAs, ...more];
}
