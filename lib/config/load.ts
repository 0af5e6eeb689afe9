/**
 * Loads a Dex config: YAML → `$VAR` expansion (connector, storage and signer configs only, as Dex does,
 * so bcrypt hashes in `staticPasswords` stay intact) → schema validation → `idEnv`/`secretEnv`
 * resolution → each connector's own schema → `Settings` with every default applied. Every
 * problem is collected and reported at once, each with its dotted path.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { ConnectorRegistry } from '../connector.js';
import { isConnectorType } from '../capabilities.js';
import { ConfigError } from '../errors.js';
import { trustedProxyList } from '../client-address.js';
import { parseListenAddress } from './listen-address.js';
import { parseDuration } from './duration.js';
import { enabledResponseTypes } from '../response-types.js';
import { configSchema, grantTypes, postgresConfigSchema, sqliteConfigSchema, unsupportedKeys, type DexConfig } from './schema.js';
import type { Settings, ClientSettings, GrantType, StaticPassword } from './settings.js';
import { parseDexYaml } from './yaml.js';
import { sameKeyInOtherCase } from './key-case.js';
import { bcryptCost, MAX_BCRYPT_COST, MIN_BCRYPT_COST } from '../bcrypt-cost.js';
import { MIN_ROTATION_MS } from '../tokens/keys.js';

type Issue = { path: string; message: string };

export interface LoadOptions {
  connectors: ConnectorRegistry;
  env?: NodeJS.ProcessEnv;
  /**
   * The config is for `dexpress serve`, which needs `web.http` or `web.https` (Dex's "must supply
   * a HTTP/HTTPS address to listen on"); a broker mounted in an app listens on the app's port.
   */
  requireListenAddress?: boolean;
  /** The config must give a way to log in (NO_LOGIN_METHOD), as `dexpress serve`'s must. */
  requireLoginMethod?: boolean;
}

/** `dexpress serve` with no connector and no password DB: Dex refuses it ("no connectors specified"). */
export const NO_LOGIN_METHOD = { path: 'connectors', message: 'no connector is configured and enablePasswordDB is off, so nobody can log in' };

/** True when `settings` give a user some way to log in. */
export function hasLoginMethod(settings: Settings): boolean {
  return settings.connectors.length > 0 || settings.passwordDB.enabled;
}

export function loadConfigFile(file: string, options: LoadOptions): { settings: Settings; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read ${file}: ${(err as Error).message}` }]);
  }
  let raw: unknown;
  try {
    raw = parseDexYaml(text);
  } catch (err) {
    throw new ConfigError([{ path: '', message: `${file} is not valid YAML: ${(err as Error).message}` }]);
  }
  return loadConfig(raw, options);
}

export function loadConfig(raw: unknown, options: LoadOptions): { settings: Settings; warnings: string[] } {
  const env = options.env ?? process.env;
  const unset: UnsetVariables = new Map();
  const expanded = expandsEnv(env) ? expandConfig(withoutNulls(raw), env, unset) : withoutNulls(raw);
  const parsed = configSchema.safeParse(expanded);
  const issues: Issue[] = [];
  let checked: CheckableConfig | undefined = parsed.success ? { config: parsed.data, issuerValid: true, originalPath: (p) => p } : undefined;
  if (!parsed.success) {
    issues.push(...zodIssues(parsed.error, '', configSchema));
    // Keep going on what did parse, so connector configs, clients and the cross-field rules are
    // reported in the same run (the promise above): see `checkableRest`.
    checked = checkableRest(expanded, parsed.error);
  }
  const warnings: string[] = [];
  let settings: Settings | undefined;
  if (checked) {
    const { config, issuerValid, originalPath } = checked;
    warnings.push(...unsupportedKeys.flatMap((k) => pathsSet(config, k)).map((k) => `${k} is not supported by dexpress and is ignored`));
    const rest: Issue[] = [];
    settings = toSettings(config, env, options.connectors, rest, warnings, issuerValid);
    issues.push(...rest.map((i) => ({ ...i, path: originalPath(i.path) })));
    if (options.requireLoginMethod && !hasLoginMethod(settings)) issues.push(NO_LOGIN_METHOD);
    if (options.requireListenAddress) {
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
    }
  }
  if (issues.length > 0 || !settings) throw new ConfigError(namingUnsetVariables(issues, unset));
  return { settings, warnings };
}

/**
 * A key whose value is YAML `null` (`connectors:` with nothing under it, a block whose sub-keys
 * are all commented out) is not set, as for Dex, which decodes the file with encoding/json.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

/** Where `$VAR` expansion met an unset variable: dotted path of the value → variable names. */
type UnsetVariables = Map<string, string[]>;

interface CheckableConfig {
  config: DexConfig;
  /** False when `issuer` itself is invalid: checks that compare URLs with it are skipped. */
  issuerValid: boolean;
  /** Maps a path in `config` back to the file's (entries that failed are left out of arrays). */
  originalPath: (path: string) => string;
}

const ENTRY_LISTS = ['connectors', 'staticClients', 'staticPasswords'] as const;

/**
 * The part of a config that failed the schema which can still be checked: list entries that
 * failed are left out (their issues are already reported), other top-level keys that failed are
 * dropped, and a failed `issuer` or `storage` gets a stand-in. Undefined when nothing useful is
 * left (the file is not a mapping).
 */
function checkableRest(expanded: unknown, error: z.ZodError): CheckableConfig | undefined {
  if (!isObject(expanded)) return undefined;
  const rest: Record<string, unknown> = { ...expanded };
  const failedEntries = new Map<string, Set<number>>();
  let issuerValid = true;
  for (const issue of error.issues) {
    const where = issue.code === 'unrecognized_keys' && issue.path.length === 0 ? issue.keys : [issue.path[0]];
    for (const key of where) {
      if (typeof key !== 'string') return undefined;
      const index = issue.path[1];
      if ((ENTRY_LISTS as readonly string[]).includes(key) && Array.isArray(rest[key]) && typeof index === 'number') {
        failedEntries.set(key, (failedEntries.get(key) ?? new Set()).add(index));
      } else if (key === 'issuer') {
        rest.issuer = 'http://issuer.invalid/';
        issuerValid = false;
      } else if (key === 'storage') {
        rest.storage = { type: 'memory' };
      } else {
        delete rest[key];
      }
    }
  }
  const kept = new Map<string, number[]>();
  for (const [key, failed] of failedEntries) {
    const entries = rest[key] as unknown[];
    const originals = entries.map((_e, i) => i).filter((i) => !failed.has(i));
    kept.set(key, originals);
    rest[key] = originals.map((i) => entries[i]);
  }
  const reparsed = configSchema.safeParse(rest);
  if (!reparsed.success) return undefined;
  const originalPath = (path: string) =>
    path.replace(/^(connectors|staticClients|staticPasswords)\[(\d+)\]/, (m, key: string, i: string) => {
      const original = kept.get(key)?.[Number(i)];
      return original === undefined ? m : `${key}[${original}]`;
    });
  return { config: reparsed.data, issuerValid, originalPath };
}

/** An issue on a value that `$VAR` expansion left empty says which variable is not set. */
function namingUnsetVariables(issues: Issue[], unset: UnsetVariables): Issue[] {
  return issues.map((i) => {
    const names = unset.get(i.path);
    return names ? { ...i, message: `${i.message} (environment variable ${names.join(', ')} is not set)` } : i;
  });
}

/** Dex's `os.ExpandEnv` on the string values of connector, storage and signer configs (unless DEX_EXPAND_ENV is false). */
function expandConfig(raw: unknown, env: NodeJS.ProcessEnv, unset: UnsetVariables): unknown {
  if (!isObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  const record = (path: string) => (name: string) => unset.set(path, [...(unset.get(path) ?? []), name]);
  if (isObject(out.storage) && isObject(out.storage.config)) {
    out.storage = { ...out.storage, config: expandEnv(out.storage.config, env, record, 'storage.config') };
  }
  if (isObject(out.signer) && isObject(out.signer.config)) {
    out.signer = { ...out.signer, config: expandEnv(out.signer.config, env, record, 'signer.config') };
  }
  if (Array.isArray(out.connectors)) {
    out.connectors = out.connectors.map((c: unknown, i) =>
      isObject(c) && isObject(c.config) ? { ...c, config: expandEnv(c.config, env, record, `connectors[${i}].config`) } : c,
    );
  }
  return out;
}

/**
 * `$VAR` and `${VAR}` in string values, as Go's os.ExpandEnv reads them: an unset variable becomes
 * '', a shell special character after `$` is a one-character name (`$1`, `$#`, `$$`), and `${}` or
 * an unclosed `${` is dropped. `onUnset(path)` is told, for the value at each dotted path, which
 * variables were not set.
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  onUnset: (path: string) => (name: string) => void = () => () => {},
  path = '',
): unknown {
  if (typeof value === 'string') {
    return goExpand(value, (name) => {
      const found = env[name];
      if (found === undefined) onUnset(path)(name);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, onUnset, `${path}[${i}]`));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, onUnset, path === '' ? k : `${path}.${k}`)]));
  return value;
}

const SHELL_SPECIAL = '*#$@!?-0123456789';

/** Go's os.Expand. */
function goExpand(s: string, lookup: (name: string) => string): string {
  let out = '';
  let from = 0;
  for (let j = 0; j < s.length - 1; j++) {
    if (s[j] !== '$') continue;
    out += s.slice(from, j);
    const [name, width] = shellName(s.slice(j + 1));
    if (name !== '') out += lookup(name);
    else if (width === 0) out += '$'; // `$` before no name stays
    j += width;
    from = j + 1;
  }
  return out + s.slice(from);
}

/** The variable name at the start of `s` (what follows a `$`) and how many characters it takes. */
function shellName(s: string): [string, number] {
  if (s[0] === '{') {
    if (s.length > 2 && SHELL_SPECIAL.includes(s[1]!) && s[2] === '}') return [s[1]!, 3];
    const close = s.indexOf('}', 1);
    if (close === -1) return ['', 1];
    return [s.slice(1, close), close + 1];
  }
  if (SHELL_SPECIAL.includes(s[0]!)) return [s[0]!, 1];
  const name = /^[A-Za-z0-9_]*/.exec(s)![0];
  return [name, name.length];
}

/** Dex's DEX_EXPAND_ENV feature flag (Go strconv.ParseBool; anything else keeps the default, on). */
function expandsEnv(env: NodeJS.ProcessEnv): boolean {
  return !['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(env.DEX_EXPAND_ENV ?? '');
}

function toSettings(config: DexConfig, env: NodeJS.ProcessEnv, registry: ConnectorRegistry, issues: Issue[], warnings: string[], issuerValid: boolean): Settings {
  const issuerUrl = new URL(config.issuer);
  const issuerBase = config.issuer.replace(/\/$/, '');
  const issuerPath = issuerUrl.pathname.replace(/\/$/, '');
  // Dex takes `/device/callback` as its own device flow callback (server/oauth2.go); so is the
  // same under the issuer path, or the full URL. dexpress sets that callback itself and never
  // lets /auth redirect there: listed, it only counts as a registered URI (no loopback URIs for a
  // public client), as in Dex.
  const deviceCallbackURIs = ['/device/callback', `${issuerPath}/device/callback`, `${issuerBase}/device/callback`];
  const ms = (v: string | undefined, fallback: number) => (v === undefined ? fallback : parseDuration(v));
  const expiry = config.expiry ?? {};
  const refresh = expiry.refreshTokens ?? {};

  // Checked here as the backend will read it, so check-config reports what serve would refuse.
  if (config.storage.type === 'memory') {
    if (config.storage.config && Object.keys(config.storage.config).length > 0) {
      warnings.push(`storage.config (${Object.keys(config.storage.config).join(', ')}) is ignored: storage type memory takes no settings`);
    }
  } else if (config.storage.type === 'sqlite3' || config.storage.type === 'postgres') {
    // A registered backend's config is its own to check, when it opens.
    const schema = config.storage.type === 'sqlite3' ? sqliteConfigSchema : postgresConfigSchema;
    const r = schema.safeParse(config.storage.config ?? {});
    if (!r.success) issues.push(...zodIssues(r.error, 'storage.config', schema));
  }

  const clients: ClientSettings[] = [];
  (config.staticClients ?? []).forEach((c, i) => {
    const path = `staticClients[${i}]`;
    const id = c.id ?? (c.idEnv ? env[c.idEnv] : undefined);
    if (!id) {
      issues.push({ path: `${path}.id`, message: c.idEnv ? `environment variable ${c.idEnv} (idEnv) is not set` : 'is required' });
      return;
    }
    const secret = c.secret ?? (c.secretEnv ? env[c.secretEnv] : undefined);
    if (c.secretEnv && !c.secret && !secret) issues.push({ path: `${path}.secretEnv`, message: `environment variable ${c.secretEnv} is not set` });
    if (!c.public && !secret) issues.push({ path: `${path}.secret`, message: 'is required for a confidential client (or set public: true)' });
    if (clients.some((o) => o.id === id)) issues.push({ path: `${path}.id`, message: `duplicate client id "${id}"` });
    const listsDeviceCallback = (c.redirectURIs ?? []).some((u) => deviceCallbackURIs.includes(u));
    const redirectURIs = [...new Set((c.redirectURIs ?? []).filter((u) => !deviceCallbackURIs.includes(u)))];
    (c.redirectURIs ?? []).forEach((u, j) => {
      if (!URL.canParse(u) && u !== 'urn:ietf:wg:oauth:2.0:oob' && !deviceCallbackURIs.includes(u)) {
        issues.push({ path: `${path}.redirectURIs[${j}]`, message: 'must be an absolute URL' });
      }
    });
    // Logout redirects there (a relative one was accepted, then /logout failed with a 500).
    (c.postLogoutRedirectURIs ?? []).forEach((u, j) => {
      if (!URL.canParse(u)) issues.push({ path: `${path}.postLogoutRedirectURIs[${j}]`, message: 'must be an absolute URL' });
    });
    clients.push({
      id,
      ...(secret ? { secret } : {}),
      public: c.public ?? false,
      redirectURIs,
      ...(listsDeviceCallback ? { listsDeviceCallback } : {}),
      trustedPeers: c.trustedPeers ?? [],
      name: c.name ?? id,
      ...(c.logoURL ? { logoURL: c.logoURL } : {}),
      postLogoutRedirectURIs: c.postLogoutRedirectURIs ?? [],
      // An empty list allows every connector, as Dex reads it (ConnectorAllowed).
      ...(c.allowedConnectors?.length ? { allowedConnectors: c.allowedConnectors } : {}),
    });
  });

  const connectors: Settings['connectors'] = [];
  const connectorIds = new Set<string>();
  (config.connectors ?? []).forEach((c, i) => {
    const path = `connectors[${i}]`;
    const module = registry.get(c.type);
    if (!module) {
      issues.push({ path: `${path}.type`, message: `unknown connector type "${c.type}" (valid: ${[...registry.keys()].join(', ')})` });
      return;
    }
    if (!isConnectorType(c.type) && !module.capabilities) {
      issues.push({ path: `${path}.type`, message: `connector type "${c.type}" is not in the capability table, and its module declares no capabilities` });
    }
    if (c.id === 'local' && config.enablePasswordDB) issues.push({ path: `${path}.id`, message: '"local" is the password DB\'s id' });
    if (connectorIds.has(c.id)) issues.push({ path: `${path}.id`, message: `duplicate connector id "${c.id}"` });
    connectorIds.add(c.id); // a duplicate of an entry whose own config is invalid is reported too
    const r = module.configSchema.safeParse(c.config ?? {});
    if (!r.success) {
      issues.push(...zodIssues(r.error, `${path}.config`, module.configSchema));
      return;
    }
    if (module.checkConfig && issuerValid) {
      const context = { id: c.id, issuer: config.issuer, callbackURL: `${issuerBase}/callback` };
      try {
        module.checkConfig(r.data as never, context);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        issues.push(...issuesUnder(`${path}.config`, err.issues));
        return;
      }
    }
    // An empty grantTypes list allows every grant, as Dex reads it (GrantTypeAllowed).
    connectors.push({ type: c.type, id: c.id, name: c.name, config: r.data, ...(c.grantTypes?.length ? { grantTypes: c.grantTypes } : {}) });
  });

  const passwords: StaticPassword[] = [];
  // Dex's Config.Validate: "cannot specify static passwords without enabling password db".
  if ((config.staticPasswords ?? []).length > 0 && !config.enablePasswordDB) {
    issues.push({ path: 'staticPasswords', message: 'needs enablePasswordDB: true (Dex refuses to start without it too)' });
  }
  (config.staticPasswords ?? []).forEach((p, i) => {
    const path = `staticPasswords[${i}]`;
    const given = p.hash || (p.hashFromEnv ? env[p.hashFromEnv] : undefined);
    if (!given) {
      issues.push({ path: `${path}.hash`, message: p.hashFromEnv ? `environment variable ${p.hashFromEnv} is not set` : 'is required' });
      return;
    }
    const hash = bcryptOrBase64Bcrypt(given);
    const cost = hash === undefined ? undefined : bcryptCost(hash);
    if (hash === undefined || cost === undefined) {
      issues.push({ path: `${path}.hash`, message: 'must be a bcrypt hash ($2a$..., $2b$... or $2y$...), or one in base64' });
      return;
    }
    // Dex's passwords.CheckCost, which Dex applies at each login: refused here, once, at start.
    if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
      issues.push({ path: `${path}.hash`, message: `bcrypt cost ${cost} is outside ${MIN_BCRYPT_COST}..${MAX_BCRYPT_COST} (12 is recommended)` });
      return;
    }
    if (!p.userID) {
      // Dex logs such a user in with an empty user id, so every one of them gets the same `sub`
      // (one account in every client). dexpress refuses to mint that: the user is left out.
      warnings.push(`${path}.userID is not set: ${p.email} cannot log in (Dex would give every user without a userID the same subject); set a unique userID`);
      return;
    }
    passwords.push({
      email: p.email.toLowerCase(),
      hash,
      username: p.username,
      ...(p.name ? { name: p.name } : {}),
      ...(p.preferredUsername ? { preferredUsername: p.preferredUsername } : {}),
      emailVerified: p.emailVerified ?? true,
      userID: p.userID,
      groups: p.groups ?? [],
    });
  });

  // The pages' Content-Security-Policy loads images from the issuer and over https only.
  const logo = config.frontend?.logoURL;
  const sameOrigin = (u: string) => {
    try {
      return new URL(u).origin === issuerUrl.origin;
    } catch {
      return false;
    }
  };
  if (logo && /^[a-z][a-z0-9+.-]*:/i.test(logo) && !/^(https|data):/i.test(logo) && !sameOrigin(logo)) {
    warnings.push(`frontend.logoURL "${logo}" will not load: the pages load images from the issuer, over https: or as data: URLs only`);
  }

  const oauth2 = config.oauth2 ?? {};
  // As Dex: `code` when absent; the implicit grant is advertised once a response type gives out an access token.
  const responseTypes = enabledResponseTypes(oauth2.responseTypes ?? ['code']);
  if (responseTypes.length === 0) warnings.push('oauth2.responseTypes enables no response type (token is never served alone): /auth will refuse every request');
  const implicitEnabled = (oauth2.responseTypes ?? []).some((t) => t.split(' ').includes('token'));
  const enabledGrants = oauth2.grantTypes?.filter((g): g is GrantType => {
    if (g === 'implicit') {
      if (!implicitEnabled) warnings.push('oauth2.grantTypes "implicit" is left out of discovery: no oauth2.responseTypes value gives out a token (as in Dex)');
      return implicitEnabled;
    }
    if ((grantTypes as readonly string[]).includes(g)) return true;
    warnings.push(`oauth2.grantTypes "${g}" is not a grant type dexpress or Dex knows and is ignored (Dex drops it silently)`);
    return false;
  });
  const passwordConnector = oauth2.passwordConnector;
  if (passwordConnector !== undefined) {
    const known = passwordConnector === 'local' ? config.enablePasswordDB : connectors.some((c) => c.id === passwordConnector);
    if (!known) issues.push({ path: 'oauth2.passwordConnector', message: `no connector with id "${passwordConnector}"` });
  }

  let connectorDataKey: Buffer | undefined;
  const keyText = config.connectorDataKey ?? (config.connectorDataKeyEnv ? env[config.connectorDataKeyEnv] : undefined);
  if (config.connectorDataKeyEnv && !config.connectorDataKey && !keyText) {
    issues.push({ path: 'connectorDataKeyEnv', message: `environment variable ${config.connectorDataKeyEnv} is not set` });
  } else if (keyText !== undefined) {
    connectorDataKey = Buffer.from(keyText, 'base64');
    if (connectorDataKey.length !== 32) issues.push({ path: config.connectorDataKey ? 'connectorDataKey' : 'connectorDataKeyEnv', message: 'must be 32 bytes in base64 (openssl rand -base64 32)' });
  }

  const proxies = config.web?.clientRemoteIP?.trustedProxies ?? [];
  const { invalid } = trustedProxyList(proxies);
  if (invalid !== undefined) issues.push({ path: `web.clientRemoteIP.trustedProxies[${invalid}]`, message: 'must be an IP address or a CIDR such as 10.0.0.0/8' });
  if (config.web?.clientRemoteIP?.header && proxies.length === 0) {
    warnings.push('web.clientRemoteIP.header is set without web.clientRemoteIP.trustedProxies: the header is ignored, since any client could set it');
  }

  const signerConfig = config.signer?.config ?? {};
  const rotationKey = signerConfig.keysRotationPeriod !== undefined ? 'signer.config.keysRotationPeriod' : 'expiry.signingKeys';
  const rotationPeriod = signerConfig.keysRotationPeriod ?? expiry.signingKeys;
  if (rotationPeriod !== undefined && parseDuration(rotationPeriod) < MIN_ROTATION_MS) {
    warnings.push(`${rotationKey} "${rotationPeriod}" is shorter than 30s: the signing keys rotate every 30s (as in Dex, which checks them every 30s)`);
  }
  return {
    // As Dex: the issuer exactly as configured (discovery, `iss`), endpoints joined to it without a doubled slash.
    issuer: config.issuer,
    issuerBase,
    issuerPath,
    storage: { type: config.storage.type, config: config.storage.config ?? {} },
    web: {
      ...(config.web?.http ? { http: config.web.http } : {}),
      ...(config.web?.https ? { https: config.web.https } : {}),
      ...(config.web?.tlsCert ? { tlsCert: config.web.tlsCert } : {}),
      ...(config.web?.tlsKey ? { tlsKey: config.web.tlsKey } : {}),
      allowedOrigins: config.web?.allowedOrigins ?? [],
      allowedHeaders: config.web?.allowedHeaders ?? ['Authorization'],
      headers: config.web?.headers ?? {},
      ...(config.web?.clientRemoteIP?.header
        ? { clientRemoteIP: { header: config.web.clientRemoteIP.header, trustedProxies: config.web.clientRemoteIP.trustedProxies ?? [] } }
        : {}),
    },
    ...(config.telemetry?.http ? { telemetry: { http: config.telemetry.http } } : {}),
    expiry: {
      idTokensMs: ms(expiry.idTokens, 24 * 3_600_000),
      authRequestsMs: ms(expiry.authRequests, 24 * 3_600_000),
      deviceRequestsMs: ms(expiry.deviceRequests, 5 * 60_000),
      refreshTokens: {
        disableRotation: refresh.disableRotation ?? false,
        reuseIntervalMs: ms(refresh.reuseInterval, 3000),
        ...(refresh.validIfNotUsedFor ? { validIfNotUsedForMs: parseDuration(refresh.validIfNotUsedFor) } : {}),
        ...(refresh.absoluteLifetime ? { absoluteLifetimeMs: parseDuration(refresh.absoluteLifetime) } : {}),
      },
    },
    logger: {
      level: (config.logger?.level ?? 'info').toLowerCase() as Settings['logger']['level'],
      format: config.logger?.format?.toLowerCase() === 'json' ? 'json' : 'text',
      ...(config.logger?.excludeFields?.length ? { excludeFields: config.logger.excludeFields } : {}),
    },
    oauth2: {
      grantTypes: enabledGrants ?? [
        'authorization_code',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:ietf:params:oauth:grant-type:token-exchange',
        ...(passwordConnector ? ['password' as const] : []),
        ...(implicitEnabled ? ['implicit' as const] : []),
      ],
      responseTypes,
      skipApprovalScreen: oauth2.skipApprovalScreen ?? false,
      alwaysShowLoginScreen: oauth2.alwaysShowLoginScreen ?? false,
      ...(passwordConnector ? { passwordConnector } : {}),
      pkce: { enforce: oauth2.pkce?.enforce ?? false, methods: oauth2.pkce?.codeChallengeMethodsSupported ?? ['S256', 'plain'] },
    },
    clients,
    connectors,
    frontend: {
      issuer: config.frontend?.issuer ?? 'dexpress',
      ...(config.frontend?.logoURL ? { logoURL: config.frontend.logoURL } : {}),
      ...(config.frontend?.dir ? { dir: config.frontend.dir } : {}),
      theme: config.frontend?.theme ?? 'light',
      extra: config.frontend?.extra ?? {},
    },
    passwordDB: { enabled: config.enablePasswordDB ?? false, users: passwords },
    signer: {
      algorithm: signerConfig.algorithm ?? 'RS256',
      rotationMs: ms(signerConfig.keysRotationPeriod ?? expiry.signingKeys, 6 * 3_600_000),
    },
    ...(connectorDataKey ? { connectorDataKey } : {}),
  };
}

/**
 * Dex's password.UnmarshalJSON: a bcrypt hash as is, or "for backwards compatibility" a bcrypt
 * hash in base64. Undefined when it is neither.
 */
function bcryptOrBase64Bcrypt(value: string): string | undefined {
  if (bcryptCost(value) !== undefined) return value;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('latin1');
  return bcryptCost(decoded) === undefined ? undefined : decoded;
}

/** A connector's issues (paths relative to its `config`) under `connectors[i].config`. */
export function issuesUnder(prefix: string, issues: readonly Issue[]): Issue[] {
  return issues.map((i) => ({ ...i, path: i.path === '' ? prefix : i.path.startsWith('[') ? `${prefix}${i.path}` : `${prefix}.${i.path}` }));
}

/** `schema`, the one that failed, lets an unknown key be told the key it spells in another case. */
export function zodIssues(error: z.ZodError, prefix: string, schema?: z.ZodType): Issue[] {
  const join = (base: string, key: PropertyKey) => (typeof key === 'number' ? `${base}[${key}]` : base === '' ? String(key) : `${base}.${String(key)}`);
  return error.issues.flatMap((issue) => {
    const path = issue.path.reduce<string>(join, prefix);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => {
        const known = schema && sameKeyInOtherCase(schema, issue.path, k);
        const message = known ? `unknown key: write it "${known}" (Dex matches keys in any letter case, dexpress as written)` : 'unknown key';
        return { path: join(path, k), message };
      });
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) message = 'is required';
    else if (issue.code === 'invalid_type' && /expected string, received (boolean|number)/.test(issue.message)) {
      // YAML 1.1 (as Dex reads it): unquoted yes/no/on/off/true/false are booleans, 0123 or 1_000 numbers.
      message = `${issue.message}: quote the value (unquoted yes, no, on, off and numbers are not strings in YAML)`;
    }
    else if (issue.code === 'invalid_value' && 'values' in issue) message = `must be one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    return [{ path, message }];
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The paths where `dotted` (`a.b`, or `list[].key` for any entry of a list) is set in `obj`. */
function pathsSet(obj: unknown, dotted: string, prefix = ''): string[] {
  const [head = '', ...rest] = dotted.split('.');
  const list = head.endsWith('[]') ? head.slice(0, -2) : undefined;
  const value = isObject(obj) ? obj[list ?? head] : undefined;
  const here = prefix === '' ? (list ?? head) : `${prefix}.${list ?? head}`;
  if (value === undefined) return [];
  if (list !== undefined) return Array.isArray(value) ? value.flatMap((v, i) => pathsSet(v, rest.join('.'), `${here}[${i}]`)) : [];
  return rest.length === 0 ? [here] : pathsSet(value, rest.join('.'), here);
}
