/**
 * Dex's config file, key for key (cmd/dex/config.go), as zod schemas. Objects are strict, so an
 * unknown key is an error naming its dotted path; keys Dex has that dexpress does not implement
 * are accepted and reported as warnings by `loadConfig`. Connector `config` blocks are checked
 * later by each connector's own schema.
 */
import { z } from 'zod';
import { builtInStorageTypes, isStorageType } from '../storage/index.js';
import { parseDuration } from './duration.js';

/** time.Duration's largest value, 2^63 - 1 nanoseconds, in milliseconds: Go refuses a longer duration. */
const GO_LONGEST_DURATION_MS = 9_223_372_036_854.775807;

/**
 * A Go duration. A negative one is refused: Dex starts with it and then, say, every ID token is
 * expired when minted or keys rotate on every request (README, Migrating from Dex).
 */
const duration = z.string().superRefine((s, ctx) => {
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 24h, 10m or 1h30m' });
    return;
  }
  if (ms < 0) ctx.addIssue({ code: 'custom', message: `"${s}" is negative: a lifetime or period must be 0 or more` });
  if (ms > GO_LONGEST_DURATION_MS) ctx.addIssue({ code: 'custom', message: `"${s}" is longer than a Go duration can be (2562047h47m16.854775807s); Dex refuses it too` });
});

/**
 * `web.headers`, added to every response. Each CR or LF in a value becomes a space and the value
 * is trimmed, as Go's net/http writes a header (so Dex runs with it): a long Content-Security-Policy
 * written as a folded YAML block (`>`) ends in a newline, which Node refuses on every response. A
 * blank value leaves the header as it is without it (Dex: "unset if blank"). A name or value HTTP
 * cannot carry is refused here, naming the header.
 */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_INVALID = /[^\t\x20-\x7e\x80-\xff]/;
const webHeaders = z.record(z.string(), z.string()).transform((headers, ctx) => {
  const out: Record<string, string> = {};
  for (const [name, written] of Object.entries(headers)) {
    const value = written.replace(/[\r\n]/g, ' ').replace(/^[ \t]+|[ \t]+$/g, '');
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid HTTP header name' });
    else if (HEADER_VALUE_INVALID.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: 'contains a character an HTTP header cannot carry (a control character, or one beyond Latin-1)' });
    else if (value !== '') out[name] = value;
  }
  return out;
});

const url = z.string().refine((s) => URL.canParse(s), { message: 'must be an absolute URL' });

export const storageSchema = z
  .object({
    /** `memory`, `sqlite3` (embedded default), `postgres`, or a type given to `registerStorageBackend`. */
    type: z.string().refine(isStorageType, {
      message: `must be one of ${builtInStorageTypes.map((t) => JSON.stringify(t)).join(', ')}, or a type registered with registerStorageBackend`,
    }),
    config: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const sqliteConfigSchema = z
  .object({
    /** Path of the database file; created if missing. */
    file: z.string().min(1),
  })
  .strict();

const pgPort = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().min(1).max(65535));
const pgSeconds = z.number().int().min(0);

/** Dex's `storage.config` for `type: postgres` (storage/sql/config.go), same keys. */
export const postgresConfigSchema = z
  .object({
    /** Host name, IP, or a unix socket directory; `host:port` is accepted as in Dex. Default `localhost`. */
    host: z.string().optional(),
    /** Default 5432 (or the port in `host`). */
    port: pgPort.optional(),
    /** Default: the user name, as libpq does. */
    database: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    /** Seconds to wait for a connection. Dex's 0 means "forever"; here 0 or unset means 5 s, so a request never hangs. */
    connectionTimeout: pgSeconds.optional(),
    /** Most connections this instance opens (0 or unset: 5, as Dex). */
    maxOpenConns: z.number().int().min(0).optional(),
    /** Accepted for Dex compatibility; pg's pool closes connections idle for 10 s instead. */
    maxIdleConns: z.number().int().min(0).optional(),
    /** Seconds after which a connection is replaced (default: never). */
    connMaxLifetime: pgSeconds.optional(),
    ssl: z
      .object({
        /** `disable`, `require`, `verify-ca` or `verify-full` (default, as in Dex: the strictest). */
        mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
        /** PEM file of the CA that signed the server's certificate (default: the system's CAs). */
        caFile: z.string().optional(),
        /** Client certificate and key (PEM files) for certificate authentication. */
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type PostgresConfig = z.infer<typeof postgresConfigSchema>;

export const staticClientSchema = z
  .object({
    id: z.string().min(1).optional(),
    /** Read the client id from this environment variable. */
    idEnv: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    secretEnv: z.string().min(1).optional(),
    redirectURIs: z.array(z.string()).optional(),
    /** Clients that may mint ID tokens for this one (`audience:server:client_id:<this>`). */
    trustedPeers: z.array(z.string()).optional(),
    /** A public client has no secret (native apps, CLIs); loopback redirect URIs are allowed. */
    public: z.boolean().optional(),
    name: z.string().optional(),
    logoURL: z.string().optional(),
    postLogoutRedirectURIs: z.array(z.string()).optional(),
    /** Connectors this client may use; all when absent. */
    allowedConnectors: z.array(z.string()).optional(),
    // Dex master, unreleased: accepted and reported as unsupported (see `unsupportedKeys`).
    backchannelLogoutURI: z.unknown().optional(),
    refreshTokenLifetime: z.unknown().optional(),
    mfaChain: z.unknown().optional(),
    ssoSharedWith: z.unknown().optional(),
    clientCredentialsClaims: z.unknown().optional(),
  })
  .strict();

export const connectorEntrySchema = z
  .object({
    type: z.string().min(1),
    id: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"'),
    name: z.string().min(1),
    config: z.record(z.string(), z.unknown()).optional(),
    /** Grant types this connector may be used with; all when absent. */
    grantTypes: z.array(z.string()).optional(),
  })
  .strict();

export const staticPasswordSchema = z
  .object({
    email: z.string().min(1),
    /** bcrypt hash (`$2a$`, `$2b$` or `$2y$`), or that hash in base64 (Dex reads both). */
    hash: z.string().optional(),
    /** Read the bcrypt hash from this environment variable. */
    hashFromEnv: z.string().optional(),
    username: z.string().min(1),
    name: z.string().optional(),
    preferredUsername: z.string().optional(),
    emailVerified: z.boolean().optional(),
    /** The user's stable id, encoded in `sub`; a user without one cannot log in (see `loadConfig`). */
    userID: z.string().optional(),
    groups: z.array(z.string()).optional(),
  })
  .strict();

export const grantTypes = [
  'authorization_code',
  'refresh_token',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'client_credentials',
  'implicit',
] as const;

/** Dex's response types (`oauth2.responseTypes`): the code, implicit and hybrid flows; default `code`. */
export const responseTypes = ['code', 'token', 'id_token', 'code id_token', 'id_token token', 'code token', 'code id_token token'] as const;

/** A Dex log level or format: case-insensitive, as Dex's slog.Level and newLogger. */
const caseInsensitive = <T extends string>(values: readonly T[]) =>
  z.string().refine((s) => (values as readonly string[]).includes(s.toLowerCase()), {
    message: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')} (any case)`,
  });

export const configSchema = z
  .object({
    /** The issuer URL; the broker serves its endpoints under its path. */
    issuer: url,
    storage: storageSchema,
    web: z
      .object({
        http: z.string().optional(),
        https: z.string().optional(),
        tlsCert: z.string().optional(),
        tlsKey: z.string().optional(),
        tlsMinVersion: z.string().optional(),
        tlsMaxVersion: z.string().optional(),
        allowedOrigins: z.array(z.string()).optional(),
        allowedHeaders: z.array(z.string()).optional(),
        headers: webHeaders.optional(),
        clientRemoteIP: z
          .object({ header: z.string().optional(), trustedProxies: z.array(z.string()).optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    telemetry: z.object({ http: z.string().optional(), enableProfiling: z.boolean().optional() }).strict().optional(),
    grpc: z.record(z.string(), z.unknown()).optional(),
    expiry: z
      .object({
        /** Deprecated in Dex for `signer.config.keysRotationPeriod`. */
        signingKeys: duration.optional(),
        /** Lifetime of ID and access tokens (default 24h). */
        idTokens: duration.optional(),
        /** How long a login may take (default 24h). */
        authRequests: duration.optional(),
        deviceRequests: duration.optional(),
        refreshTokens: z
          .object({
            /** Keep the same refresh token on every refresh (less safe). */
            disableRotation: z.boolean().optional(),
            /** How long the previous refresh token still works after a rotation (default 3s). */
            reuseInterval: duration.optional(),
            /** A refresh token unused this long expires. */
            validIfNotUsedFor: duration.optional(),
            /** A refresh token chain expires this long after the login, used or not. */
            absoluteLifetime: duration.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    logger: z
      .object({
        level: caseInsensitive(['debug', 'info', 'warn', 'error']).optional(),
        /** `text` (also when empty) or `json`. */
        format: caseInsensitive(['', 'text', 'json']).optional(),
        /** Top-level fields left out of every log line, as Dex's (`email`, `username`, `preferred_username`, `groups`, `user_id`). */
        excludeFields: z.array(z.string()).optional(),
      })
      .strict()
      .optional(),
    oauth2: z
      .object({
        /** Grant types to enable; unknown ones are dropped with a warning (Dex drops them silently); `implicit` is listed in discovery only with a response type that gives out a token. */
        grantTypes: z.array(z.string()).optional(),
        responseTypes: z.array(z.enum(responseTypes)).optional(),
        skipApprovalScreen: z.boolean().optional(),
        alwaysShowLoginScreen: z.boolean().optional(),
        /** Connector id used by the password grant. */
        passwordConnector: z.string().optional(),
        pkce: z
          .object({
            /** Require PKCE from every client, not only public ones. */
            enforce: z.boolean().optional(),
            codeChallengeMethodsSupported: z.array(z.enum(['S256', 'plain'])).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    staticClients: z.array(staticClientSchema).optional(),
    connectors: z.array(connectorEntrySchema).optional(),
    frontend: z
      .object({
        dir: z.string().optional(),
        theme: z.string().optional(),
        issuer: z.string().optional(),
        logoURL: z.string().optional(),
        extra: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    enablePasswordDB: z.boolean().optional(),
    staticPasswords: z.array(staticPasswordSchema).optional(),
    signer: z
      .object({
        type: z.literal('local'),
        config: z
          .object({
            /** How often the signing key rotates (default 6h). */
            keysRotationPeriod: duration.optional(),
            /** RS256 (default), ES256 or EdDSA. */
            algorithm: z.enum(['RS256', 'ES256', 'EdDSA']).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    sessions: z.record(z.string(), z.unknown()).optional(),
    /** Dex master, unreleased: multi-factor providers. Accepted and reported as unsupported. */
    mfa: z.unknown().optional(),
    /**
     * dexpress only: encrypt connectors' private state (upstream tokens) at rest with this key,
     * 32 bytes in base64. Prefer `connectorDataKeyEnv`, the name of an environment variable
     * holding it. Without a key, connector data is stored unencrypted.
     */
    connectorDataKey: z.string().optional(),
    connectorDataKeyEnv: z.string().optional(),
  })
  .strict();

export type DexConfig = z.infer<typeof configSchema>;
export type StaticClientConfig = z.infer<typeof staticClientSchema>;
export type ConnectorEntry = z.infer<typeof connectorEntrySchema>;
export type StaticPasswordConfig = z.infer<typeof staticPasswordSchema>;

/**
 * Keys Dex reads that dexpress accepts but does not act on; each is reported at start-up.
 * `list[].key` is the key in any entry of the list.
 */
export const unsupportedKeys = [
  'grpc',
  'sessions',
  'web.tlsMinVersion',
  'web.tlsMaxVersion',
  'telemetry.enableProfiling',
  'mfa',
  'staticClients[].backchannelLogoutURI',
  'staticClients[].refreshTokenLifetime',
  'staticClients[].mfaChain',
  'staticClients[].ssoSharedWith',
  'staticClients[].clientCredentialsClaims',
];
