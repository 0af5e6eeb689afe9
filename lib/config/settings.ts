/** The validated configuration with every default applied: what the broker runs on. */
import type { grantTypes } from './schema.js';

export type GrantType = (typeof grantTypes)[number];
export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

export interface ClientSettings {
  id: string;
  /** Absent for public clients. */
  secret?: string;
  public: boolean;
  redirectURIs: string[];
  trustedPeers: string[];
  name: string;
  logoURL?: string;
  postLogoutRedirectURIs: string[];
  allowedConnectors?: string[];
  /**
   * The client listed Dex's `/device/callback` among its redirect URIs. dexpress sets that
   * callback itself and never lets `/auth` redirect there; the entry only counts as "registers a
   * redirect URI" (so a public client gets no loopback URIs), as in Dex.
   */
  listsDeviceCallback?: boolean;
}

export interface StaticPassword {
  email: string;
  hash: string;
  username: string;
  name?: string;
  preferredUsername?: string;
  emailVerified: boolean;
  userID: string;
  groups: string[];
}

export interface ConnectorSettings {
  type: string;
  id: string;
  name: string;
  /** Already validated by the connector's schema. */
  config: unknown;
  grantTypes?: string[];
}

export interface Settings {
  /** Exactly as configured (Dex keeps a trailing slash): discovery's `issuer`, tokens' `iss`. */
  issuer: string;
  /** The issuer without a trailing slash: endpoint URLs are this plus their path. */
  issuerBase: string;
  /** The issuer's path, e.g. `/dex`, or '' at the root. */
  issuerPath: string;
  /** `type` is a built-in backend's or one given to `registerStorageBackend`. */
  storage: { type: string; config: Record<string, unknown> };
  web: {
    http?: string;
    https?: string;
    tlsCert?: string;
    tlsKey?: string;
    allowedOrigins: string[];
    /**
     * `web.allowedHeaders`: request headers a cross-origin caller may send to discovery, /keys,
     * /token and /userinfo (Dex's default: `Authorization`). `Content-Type` is always allowed too.
     */
    allowedHeaders: string[];
    headers: Record<string, string>;
    /** Where the client's address comes from behind proxies (Dex's `web.clientRemoteIP`). */
    clientRemoteIP?: { header: string; trustedProxies: string[] };
  };
  telemetry?: { http: string };
  expiry: {
    idTokensMs: number;
    authRequestsMs: number;
    deviceRequestsMs: number;
    refreshTokens: {
      disableRotation: boolean;
      reuseIntervalMs: number;
      validIfNotUsedForMs?: number;
      absoluteLifetimeMs?: number;
    };
  };
  logger: {
    level: 'debug' | 'info' | 'warn' | 'error';
    format: 'text' | 'json';
    /** Top-level log fields dropped from every line (Dex's `logger.excludeFields`: `email`, `username`, `groups`... for PII). */
    excludeFields?: string[];
  };
  oauth2: {
    /** Grants `/token` serves and discovery lists; `implicit` is listed only (no `/token` grant). */
    grantTypes: GrantType[];
    /** The response types `/auth` serves, as `code id_token token` orders them (`enabledResponseTypes`); default `code`. */
    responseTypes: string[];
    skipApprovalScreen: boolean;
    alwaysShowLoginScreen: boolean;
    passwordConnector?: string;
    pkce: { enforce: boolean; methods: ('S256' | 'plain')[] };
  };
  clients: ClientSettings[];
  connectors: ConnectorSettings[];
  frontend: { issuer: string; logoURL?: string; dir?: string; theme: string; extra: Record<string, string> };
  passwordDB: { enabled: boolean; users: StaticPassword[] };
  signer: { algorithm: SigningAlgorithm; rotationMs: number };
  /** The key that seals connectorData at rest, when configured. */
  connectorDataKey?: Buffer;
}
