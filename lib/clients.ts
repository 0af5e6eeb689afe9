/** OAuth clients: lookup, client authentication in constant time, redirect URI matching. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ClientSettings } from './config/settings.js';
import { OAuthError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares two secrets in constant time (whatever their lengths). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** A client as the broker keeps it: its secret only as a SHA-256 digest. */
export type RegisteredClient = Omit<ClientSettings, 'secret'> & { secretDigest?: Buffer };

export class ClientRegistry {
  private readonly byId: Map<string, RegisteredClient>;

  constructor(clients: readonly ClientSettings[]) {
    this.byId = new Map(
      clients.map(({ secret, ...c }) => [c.id, { ...c, ...(secret !== undefined ? { secretDigest: digest(secret) } : {}) }]),
    );
  }

  get(id: string): RegisteredClient | undefined {
    return this.byId.get(id);
  }

  /** Compares a presented secret with the client's, in constant time. */
  private secretMatches(client: RegisteredClient, secret: string): boolean {
    return client.secretDigest !== undefined && timingSafeEqual(digest(secret), client.secretDigest);
  }

  /**
   * Authenticates the client of a token request: `client_secret_basic` or `client_secret_post`
   * (not both), or a public client by its id alone. Failures are `invalid_client` (401).
   */
  authenticate(req: IncomingMessage, body: Record<string, string>): RegisteredClient {
    const header = req.headers.authorization;
    let id: string | undefined;
    let secret: string | undefined;
    if (header && /^basic /i.test(header)) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError('invalid_client', 'Malformed Basic authorization header.', 401);
      try {
        id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, '%20'));
        secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, '%20'));
      } catch {
        throw new OAuthError('invalid_client', 'Malformed Basic authorization header.', 401);
      }
      if (body.client_secret !== undefined) throw new OAuthError('invalid_request', 'Use one client authentication method, not two.');
      if (body.client_id !== undefined && body.client_id !== id) throw new OAuthError('invalid_client', 'client_id does not match the authorization header.', 401);
    } else {
      id = body.client_id;
      secret = body.client_secret;
    }
    if (!id) throw new OAuthError('invalid_client', 'Client authentication is required.', 401);
    const client = this.byId.get(id);
    if (!client) throw new OAuthError('invalid_client', 'Invalid client credentials.', 401);
    if (client.public) {
      // A public client has no secret; Dex also accepts its (public) secret when one is configured.
      if (secret && client.secretDigest && !this.secretMatches(client, secret)) throw new OAuthError('invalid_client', 'Invalid client credentials.', 401);
      return client;
    }
    if (!secret || !this.secretMatches(client, secret)) throw new OAuthError('invalid_client', 'Invalid client credentials.', 401);
    return client;
  }
}

/**
 * Dex's `CrossClientTrusted`: a client may put `peerId` in its tokens' `aud` (scope
 * `audience:server:client_id:<peerId>`) when it is that peer, or the peer exists and lists it
 * in `trustedPeers`.
 */
export function peerTrusts(clients: Pick<ClientRegistry, 'get'>, peerId: string, clientId: string): boolean {
  if (peerId === clientId) return true;
  return clients.get(peerId)?.trustedPeers.includes(clientId) ?? false;
}

/**
 * Dex's `validateRedirectURI`: a registered URI matches exactly; a public client that registers
 * no redirect URIs may use the out-of-band URI and any `http://localhost` / loopback-IP URI
 * (native apps pick a free port, RFC 8252). A public client with registered URIs gets only those.
 * A loopback URI with a fragment, even an empty one, is refused (RFC 6749 section 3.1.2; Dex takes it).
 */
export function redirectUriAllowed(client: Pick<ClientSettings, 'redirectURIs' | 'public' | 'listsDeviceCallback'>, redirectURI: string): boolean {
  if (client.redirectURIs.includes(redirectURI)) return true;
  if (!client.public || client.redirectURIs.length > 0 || client.listsDeviceCallback) return false;
  if (redirectURI === 'urn:ietf:wg:oauth:2.0:oob') return true;
  if (redirectURI.includes('#')) return false;
  let u: URL;
  try {
    u = new URL(redirectURI);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' || u.username || u.password) return false;
  const host = u.hostname;
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}
