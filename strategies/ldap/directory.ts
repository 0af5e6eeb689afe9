/**
 * Talking to the directory with `ldapts`: one connection per operation (a login or a refresh),
 * opened with a connect timeout and an operation timeout, upgraded with StartTLS when asked,
 * bound as the service account, and always unbound in `finally` (an `ldapts` client whose bind
 * failed otherwise keeps its socket open). A connection lost mid-operation is not re-opened. A
 * directory that goes away fails the operations in flight with a clear `UpstreamError`; the next
 * operation simply connects again.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, createSecureContext, type ConnectionOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Client, InvalidCredentialsError, ConstraintViolationError, NoSuchObjectError, ResultCodeError } from 'ldapts';
import { ConfigError, UpstreamError } from '../../lib/errors.js';
import { endpointOf, type Endpoint, type LdapConfig } from './config.js';
import { entryFromObject, type LdapEntry } from './entry.js';

export interface DirectoryTimeouts {
  /** Milliseconds to wait for the TCP (and TLS) connection. Default 5000. */
  connectTimeoutMs?: number;
  /** Milliseconds to wait for any one LDAP operation's answer. Default 10000. */
  operationTimeoutMs?: number;
}

export interface SearchRequest {
  baseDN: string;
  filter: string;
  scope: 'sub' | 'one';
  attributes: string[];
}

/** One open, bound connection, handed to the function given to `Directory.session`. */
export interface DirectorySession {
  /** Searches; a base DN that does not exist yields no entries when `missingBaseIsEmpty`. */
  search(request: SearchRequest, options?: { missingBaseIsEmpty?: boolean }): Promise<LdapEntry[]>;
  /**
   * Binds as `dn` with `password`: `true` when accepted, `false` for invalid credentials (or a
   * password-policy constraint, as Dex treats it). Leaves the connection bound as that user.
   */
  bindAsUser(dn: string, password: string): Promise<boolean>;
  /** Binds as the service account again (or anonymously). */
  bindAsService(): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_OPERATION_TIMEOUT_MS = 10000;

const TLS_ERROR = /certificate|self[- ]signed|ssl|tls|altname|handshake|unable to verify|CERT_|ERR_TLS|EPROTO/i;
/** What Node and ldapts say when the TCP connection cannot be made or is lost. */
const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|Connection timeout|Connection closed|Socket error|Socket connection not established/i;

function readConfigFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError([{ path: key, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
}

function certificatesIn(pem: string, key: string): string {
  try {
    new X509Certificate(pem);
  } catch {
    throw new ConfigError([{ path: key, message: 'no PEM certificate found' }]);
  }
  return pem;
}

/** Node TLS options from Dex's TLS keys (read once, at start-up). */
export function tlsOptionsOf(config: LdapConfig, endpoint: Endpoint): ConnectionOptions {
  const options: ConnectionOptions = {
    rejectUnauthorized: !config.insecureSkipVerify,
    minVersion: 'TLSv1.2',
    // The certificate must name the configured host, DNS name or IP. Without this, a StartTLS
    // upgrade of a connection to an IP address was checked against "localhost" (Node takes the
    // name from the socket, which keeps none for an IP), as Go's `ServerName: host` does not.
    checkServerIdentity: (_name, cert) => checkServerIdentity(endpoint.hostname, cert),
  };
  if (isIP(endpoint.hostname) === 0) options.servername = endpoint.hostname;
  if (config.rootCA !== '') options.ca = certificatesIn(readConfigFile(config.rootCA, 'rootCA').toString('utf8'), 'rootCA');
  if (config.rootCAData !== '') options.ca = certificatesIn(Buffer.from(config.rootCAData, 'base64').toString('utf8'), 'rootCAData');
  if (config.clientCert !== '') {
    options.cert = readConfigFile(config.clientCert, 'clientCert');
    options.key = readConfigFile(config.clientKey, 'clientKey');
    try {
      createSecureContext({ cert: options.cert, key: options.key });
    } catch (err) {
      throw new ConfigError([{ path: 'clientKey', message: `cannot use clientCert and clientKey: ${describe(err)}` }]);
    }
  }
  return options;
}

/**
 * Wraps a socket factory so that it serves one connection only. `ldapts` silently reconnects when
 * a connection drops; inside one login that would continue unauthenticated, or after StartTLS in
 * clear text, so a second connection is refused and the operation fails instead.
 */
function singleUse<F extends (...args: never[]) => unknown>(create: F, address: string): F {
  let used = false;
  const wrapped = (...args: unknown[]) => {
    if (used) throw new Error(`Connection closed by ${address} during the operation; not reconnecting`);
    used = true;
    return (create as unknown as (...a: unknown[]) => unknown)(...args);
  };
  return wrapped as unknown as F;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

export class Directory {
  readonly endpoint: Endpoint;
  private readonly config: LdapConfig;
  private readonly tlsOptions: ConnectionOptions | undefined;
  private readonly connectTimeoutMs: number;
  private readonly operationTimeoutMs: number;

  constructor(config: LdapConfig, timeouts: DirectoryTimeouts = {}) {
    this.config = config;
    this.endpoint = endpointOf(config);
    this.tlsOptions = config.insecureNoSSL ? undefined : tlsOptionsOf(config, this.endpoint);
    this.connectTimeoutMs = timeouts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.operationTimeoutMs = timeouts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  }

  /** Opens a connection bound as the service account, runs `work`, and always closes it. */
  async session<T>(work: (session: DirectorySession) => Promise<T>): Promise<T> {
    const client = new Client({
      url: this.endpoint.url,
      connectTimeout: this.connectTimeoutMs,
      timeout: this.operationTimeoutMs,
      createConnection: singleUse(netConnect, this.endpoint.address),
      // For StartTLS this factory upgrades the one plain socket; for LDAPS it opens the connection.
      createSecureConnection: singleUse(tlsConnect, this.endpoint.address),
      ...(this.tlsOptions && !this.config.startTLS ? { tlsOptions: this.tlsOptions } : {}),
    });
    try {
      if (this.config.startTLS && !this.config.insecureNoSSL) {
        await this.step('StartTLS', () => client.startTLS(this.tlsOptions));
      }
      const session = this.sessionOn(client);
      await session.bindAsService();
      return await work(session);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private sessionOn(client: Client): DirectorySession {
    const { bindDN, bindPW } = this.config;
    return {
      search: async (request, options = {}) => {
        try {
          const result = await client.search(request.baseDN, {
            scope: request.scope,
            filter: request.filter,
            attributes: request.attributes,
          });
          return result.searchEntries.map((raw) => {
            const entry = entryFromObject(raw);
            if (!entry) throw new UpstreamError(`the LDAP server at ${this.endpoint.address} returned an entry without a DN`);
            return entry;
          });
        } catch (err) {
          if (options.missingBaseIsEmpty && err instanceof NoSuchObjectError) return [];
          throw this.upstreamError(`search under "${request.baseDN}" with filter ${request.filter}`, err);
        }
      },
      bindAsUser: async (dn, password) => {
        // An empty password would be an unauthenticated bind, which servers accept: never send one.
        if (password === '') return false;
        try {
          await client.bind(dn, password);
          return true;
        } catch (err) {
          if (err instanceof InvalidCredentialsError || err instanceof ConstraintViolationError) return false;
          throw this.upstreamError(`bind as "${dn}"`, err);
        }
      },
      bindAsService: () =>
        this.step(bindDN === '' ? 'anonymous bind' : `bind as service account "${bindDN}"`, () => client.bind(bindDN, bindPW)),
    };
  }

  private async step(what: string, operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (err) {
      throw this.upstreamError(what, err);
    }
  }

  /** A clear error for the operator; never includes a password. */
  upstreamError(what: string, err: unknown): UpstreamError {
    if (err instanceof UpstreamError) return err;
    const address = this.endpoint.address;
    if (err instanceof ResultCodeError) {
      const diagnostic = err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
      const detail = `${err.constructor.name} (result code ${err.code})${diagnostic === '' ? '' : `: ${diagnostic}`}`;
      return new UpstreamError(`LDAP ${what} failed at ${address}: ${detail}`, { cause: err });
    }
    const reason = describe(err);
    if (/operation timed out/i.test(reason)) {
      return new UpstreamError(`The LDAP server at ${address} did not answer in time (${what}: ${reason})`, { cause: err });
    }
    if (TLS_ERROR.test(reason)) return new UpstreamError(`TLS with the LDAP server at ${address} failed (${what}): ${reason}`, { cause: err });
    if (CONNECTION_ERROR.test(reason)) {
      return new UpstreamError(`The LDAP server at ${address} cannot be reached (${what}: ${reason})`, { cause: err });
    }
    return new UpstreamError(`LDAP ${what} failed at ${address}: ${reason}`, { cause: err });
  }
}
