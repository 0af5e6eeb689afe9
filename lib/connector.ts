/**
 * The connector contract. A connector module is `{ type, configSchema, create }`; `create`
 * returns a `Connector`: a Passport strategy plus, where the protocol allows, `login` (password
 * connectors), `refresh` and `tokenIdentity`. Modules prove they fit with
 * `satisfies ConnectorModule<Config>`.
 *
 * How the broker drives a strategy: for `/auth/:id` and for `/callback` it calls
 * `strategy.authenticate(req, options)` with `BrokerAuthenticateOptions`. The strategy ends in
 * exactly one of `redirect(url)` (send the browser upstream), `success(identity)`,
 * `fail({message}, status)` (the user is refused: wrong password, not in a required group) or
 * `error(err)` (the upstream broke), or it writes the response itself (an auto-submitting SAML
 * POST form). State the strategy must keep between the redirect and the callback (a PKCE
 * verifier, a SAML request id) goes into `options.loginState`, which the broker stores with the
 * auth request; `options.state` is the value to round-trip through the upstream (the broker has
 * already checked and consumed it when the callback arrives).
 *
 * Used without the broker, a strategy is an ordinary Passport strategy: it keeps that state in
 * `req.session` and checks `state` itself.
 */
import type { Request } from 'express';
import type { Strategy } from 'passport';
import type { z } from 'zod';
import type { Capabilities, ConnectorType } from './capabilities.js';
import type { Identity, JsonValue, Scopes } from './identity.js';

export interface LoginState {
  get(): Promise<JsonValue | undefined>;
  set(value: JsonValue): Promise<void>;
}

/** The options the broker passes to `strategy.authenticate(req, options)`. */
export interface BrokerAuthenticateOptions {
  /** Marks a broker-driven call; strategies then skip their own session-based state. */
  broker: true;
  /**
   * `login`: called from `/auth/<id>` to start; `callback`: the upstream's answer arrived. The
   * broker always sets it (optional only so hand-built options in strategy tests may omit it).
   */
  phase?: 'login' | 'callback';
  /** Opaque value to send upstream and expect back (the auth request id). */
  state: string;
  scopes: Scopes;
  /** Where the upstream must send the user back (`<issuer>/callback`, or the connector's). */
  callbackURL: string;
  loginState: LoginState;
}

export function isBrokerOptions(options: unknown): options is BrokerAuthenticateOptions {
  return typeof options === 'object' && options !== null && (options as { broker?: unknown }).broker === true;
}

/** Logger shape the broker hands to connectors (pino-compatible). */
export interface ConnectorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ConnectorContext {
  /** The connector's id in the config (`connectors[].id`). */
  id: string;
  /** Display name (`connectors[].name`). */
  name: string;
  /** The broker's issuer URL, e.g. `http://127.0.0.1:5556/dex`. */
  issuer: string;
  /** `<issuer>/callback`, Dex's default redirect URI for upstream logins. */
  callbackURL: string;
  logger: ConnectorLogger;
}

/** What a connector's `checkConfig` knows of the broker at config time. */
export type ConfigCheckContext = Pick<ConnectorContext, 'id' | 'issuer' | 'callbackURL'>;

/**
 * The login throttle's say on one account, asked once per password check: `account` names the
 * account the typed username resolved to (the same for every username that reaches it, such as
 * `alice` and `alice@example.org`). `false`: the account has had too many failures, so its
 * password must not be checked now.
 */
export type Admit = (account: string) => Promise<boolean>;

export interface Connector {
  /** The Passport strategy. Password connectors have one too (it reads username/password from the body). */
  strategy: Strategy;
  /**
   * Password connectors: check the credentials. Returns the identity, or `null` for a wrong
   * username or password (not an error). Throws `UpstreamError` when the directory is unreachable.
   * A connector that finds the account before it checks the password (LDAP: the user entry)
   * calls `admit` with the account's id in between, and returns `null` unchecked when it says no.
   */
  login?(username: string, password: string, scopes: Scopes, admit?: Admit): Promise<Identity | null>;
  /** Label of the username field on the password form ("Username", "Email"). */
  prompt?: string;
  /**
   * Re-read the user upstream. Throws `RefreshFailedError` when the upstream no longer vouches
   * for the user; the broker answers the client `invalid_grant`.
   */
  refresh?(identity: Identity, scopes: Scopes): Promise<Identity>;
  /** RFC 8693 token exchange: turn an upstream token into an identity. */
  tokenIdentity?(subjectTokenType: string, subjectToken: string): Promise<Identity>;
  /**
   * Extra routes the connector serves under `<issuer>/auth/<id>/...` (SAML SP metadata).
   * Keys are sub-paths such as `metadata`.
   */
  routes?: Record<string, (req: Request) => Promise<{ status: number; contentType: string; body: string }>>;
  close?(): Promise<void>;
}

export interface ConnectorModule<Config = unknown> {
  /**
   * The name configs use (`connectors[].type`). A row of the capability table (`ldap`,
   * `github`...), whose row then decides refresh tokens, `groups` and `preferred_username`; or a
   * type of your own, which declares its row in `capabilities`.
   */
  type: ConnectorType | (string & {});
  /**
   * The capability row of a type that is not in the table (required for one). A type of the
   * table keeps the table's row: this field is ignored for it.
   */
  capabilities?: Capabilities;
  /** Validates Dex's config keys for this connector; unknown keys are errors. */
  configSchema: z.ZodType<Config>;
  create(config: Config, context: ConnectorContext): Connector | Promise<Connector>;
  /**
   * Start-up checks that need the broker's URLs but no I/O (Dex's `redirectURI` must be
   * `<issuer>/callback`). Run by `loadConfig`, so `check-config` reports what `serve` refuses;
   * throws a `ConfigError` whose paths are relative to the connector's `config`.
   */
  checkConfig?(config: Config, context: ConfigCheckContext): void;
  /**
   * Maps what an existing third-party Passport strategy of this type hands to `success(user)`
   * (passport-github2's profile, passport-ldapauth's LDAP entry, ...) into an `Identity`, so a
   * Passport setup that already works can be handed to the broker:
   * `createBroker(config, { connectors, passportStrategies: { <connector id>: strategy } })`.
   * Fails closed like the connector's own mapping.
   */
  fromPassportUser?(user: unknown, config: Config): Identity | Promise<Identity>;
}

/** Any connector module, whatever its config type (the broker validates with `configSchema` first). */
export interface AnyConnectorModule {
  type: ConnectorType | (string & {});
  capabilities?: Capabilities;
  configSchema: z.ZodType<unknown>;
  create(config: never, context: ConnectorContext): Connector | Promise<Connector>;
  checkConfig?(config: never, context: ConfigCheckContext): void;
  fromPassportUser?(user: unknown, config: never): Identity | Promise<Identity>;
}

/** A registry of connector modules, keyed by type. `lib/` reaches connectors only through one. */
export type ConnectorRegistry = ReadonlyMap<string, AnyConnectorModule>;

export function createRegistry(modules: readonly AnyConnectorModule[]): ConnectorRegistry {
  return new Map(modules.map((m) => [m.type, m]));
}
