/**
 * A real OpenID provider for tests: `oidc-provider` 9 in-process on 127.0.0.1, with one
 * confidential client (client_secret_basic, PKCE required, loopback redirect URIs on any port), the users given by the test, and
 * `devInteractions` (any login name is accepted; `signIn` posts its login and consent forms the
 * way a browser would). Claims go into the ID token too (`conformIdTokenClaims: false`), and a
 * refresh token is issued for `offline_access` with `prompt=consent`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** A user's claims, exactly as the provider will state them (any JSON shape, to test mapping). */
export type UpstreamUser = Record<string, unknown>;

export interface OidcProviderOptions {
  /** Login name → claims (`sub` is the login name). */
  users: Record<string, UpstreamUser>;
  clientID?: string;
  clientSecret?: string;
  /** Redirect URIs the client may use. */
  redirectURIs: string[];
  /** More clients (oidc-provider client metadata), e.g. one with `client_secret_post` and no PKCE. */
  extraClients?: Record<string, unknown>[];
  /** Serve over HTTPS with this certificate (for 127.0.0.1). */
  tls?: { key: string; cert: string };
}

export interface RunningOidcProvider {
  issuer: string;
  clientID: string;
  clientSecret: string;
  provider: Provider;
  close(): Promise<void>;
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<RunningOidcProvider> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  };
  const server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const clientID = options.clientID ?? 'dexpress';
  const clientSecret = options.clientSecret ?? 'upstream-secret';

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientID,
        client_secret: clientSecret,
        redirect_uris: options.redirectURIs,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        // A native client may use its loopback redirect URIs on any port (RFC 8252), so the
        // provider can start before the broker whose port it will call back.
        application_type: 'native',
      },
      ...(options.extraClients ?? []),
    ],
    async findAccount(_ctx, id) {
      const claims = options.users[id];
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    // PKCE is required of the main client, so tests prove the connector sends it.
    pkce: { required: (_ctx, client) => (client as { clientId?: string }).clientId === clientID },
    cookies: { keys: ['test-cookie-key'] },
  });
  handler = provider.callback();
  return {
    issuer,
    clientID,
    clientSecret,
    provider,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A minimal browser: one cookie jar per host, no redirects followed automatically. */
export class CookieJar {
  private readonly cookies = new Map<string, Map<string, string>>();

  /** `fetchFn`: a fetch trusting the test CA, for HTTPS providers. */
  constructor(private readonly fetchFn: typeof fetch = fetch) {}

  header(url: string): string {
    const jar = this.cookies.get(new URL(url).host);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  store(url: string, res: Response): void {
    const host = new URL(url).host;
    const jar = this.cookies.get(host) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    this.cookies.set(host, jar);
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await this.fetchFn(url, { ...init, headers, redirect: 'manual' });
    this.store(url, res);
    return res;
  }
}

/**
 * Follows `startURL` through the provider's devInteractions as `login`, posting the login and
 * consent forms, until a redirect leaves for a URL starting with `until`; returns that URL.
 */
export async function signIn(startURL: string, login: string, until: string, jar = new CookieJar()): Promise<string> {
  let url = startURL;
  for (let hop = 0; hop < 20; hop++) {
    if (url.startsWith(until)) return url;
    const res = await jar.fetch(url);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      url = new URL(location, url).toString();
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`no interaction form at ${url}`);
    const form = new URLSearchParams({ prompt });
    if (prompt === 'login') {
      form.set('login', login);
      form.set('password', 'any');
    }
    const posted = await jar.fetch(new URL(action, url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const next = posted.headers.get('location');
    if (!next) throw new Error(`posting the ${prompt} form answered ${posted.status}`);
    url = new URL(next, url).toString();
  }
  throw new Error(`no redirect to ${until} within 20 hops`);
}

/**
 * For `browse()` (test/helpers/rp.ts): answers the provider's devInteractions pages, signing in
 * as `login` and granting consent; other pages are left to the browser.
 */
export function answerInteractions(issuer: string, login: string) {
  return async (page: { url: string; status: number; body: string }) => {
    if (!page.url.startsWith(`${issuer}/interaction/`) || page.status !== 200) return undefined;
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(page.body)?.[1];
    if (!action || !prompt) return undefined;
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any' } : { prompt };
    return { url: new URL(action, page.url).toString(), method: 'POST' as const, form };
  };
}
