/**
 * A config that passed the schema → `Settings`, with every default applied: each step checks its
 * part and adds its problems to `issues` and `warnings`, in the order they are reported.
 */
import type { ConnectorRegistry } from '../connector.js';
import { trustedProxyList } from '../client-address.js';
import { MIN_ROTATION_MS } from '../tokens/keys.js';
import { parseDuration } from './duration.js';
import { postgresConfigSchema, sqliteConfigSchema, type DexConfig } from './schema.js';
import type { Settings } from './settings.js';
import { zodIssues, type Issue } from './issues.js';
import { staticClients } from './static-clients.js';
import { connectorEntries } from './connector-entries.js';
import { staticPasswords } from './static-passwords.js';
import { oauth2Settings } from './oauth2-settings.js';

/** `issuerValid` false (the issuer itself is invalid): checks that compare URLs with it are skipped. */
export function toSettings(config: DexConfig, env: NodeJS.ProcessEnv, registry: ConnectorRegistry, issues: Issue[], warnings: string[], issuerValid: boolean): Settings {
  const issuerUrl = new URL(config.issuer);
  const issuerBase = config.issuer.replace(/\/$/, '');
  const issuerPath = issuerUrl.pathname.replace(/\/$/, '');
  checkStorageConfig(config, issues, warnings);
  const clients = staticClients(config, env, { issuerBase, issuerPath }, issues);
  const connectors = connectorEntries(config, registry, { issuerBase, issuerValid }, issues);
  const passwords = staticPasswords(config, env, issues, warnings);
  checkLogoURL(config, issuerUrl, warnings);
  const oauth2 = oauth2Settings(config, connectors, issues, warnings);
  const connectorDataKey = connectorDataKeyOf(config, env, issues);
  checkClientRemoteIP(config, issues, warnings);
  checkRotationPeriod(config, warnings);

  const ms = (v: string | undefined, fallback: number) => (v === undefined ? fallback : parseDuration(v));
  const expiry = config.expiry ?? {};
  const refresh = expiry.refreshTokens ?? {};
  const signerConfig = config.signer?.config ?? {};
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
    oauth2,
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

/** Checked here as the backend will read it, so check-config reports what serve would refuse. */
function checkStorageConfig(config: DexConfig, issues: Issue[], warnings: string[]): void {
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
}

/** The pages' Content-Security-Policy loads images from the issuer and over https only. */
function checkLogoURL(config: DexConfig, issuerUrl: URL, warnings: string[]): void {
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
}

/** `connectorDataKey`, or the variable `connectorDataKeyEnv` names: 32 bytes in base64. */
function connectorDataKeyOf(config: DexConfig, env: NodeJS.ProcessEnv, issues: Issue[]): Buffer | undefined {
  let connectorDataKey: Buffer | undefined;
  const keyText = config.connectorDataKey ?? (config.connectorDataKeyEnv ? env[config.connectorDataKeyEnv] : undefined);
  if (config.connectorDataKeyEnv && !config.connectorDataKey && !keyText) {
    issues.push({ path: 'connectorDataKeyEnv', message: `environment variable ${config.connectorDataKeyEnv} is not set` });
  } else if (keyText !== undefined) {
    connectorDataKey = Buffer.from(keyText, 'base64');
    if (connectorDataKey.length !== 32) issues.push({ path: config.connectorDataKey ? 'connectorDataKey' : 'connectorDataKeyEnv', message: 'must be 32 bytes in base64 (openssl rand -base64 32)' });
  }
  return connectorDataKey;
}

/** `web.clientRemoteIP`: proxies as IP addresses or CIDRs; the header trusted only from them. */
function checkClientRemoteIP(config: DexConfig, issues: Issue[], warnings: string[]): void {
  const proxies = config.web?.clientRemoteIP?.trustedProxies ?? [];
  const { invalid } = trustedProxyList(proxies);
  if (invalid !== undefined) issues.push({ path: `web.clientRemoteIP.trustedProxies[${invalid}]`, message: 'must be an IP address or a CIDR such as 10.0.0.0/8' });
  if (config.web?.clientRemoteIP?.header && proxies.length === 0) {
    warnings.push('web.clientRemoteIP.header is set without web.clientRemoteIP.trustedProxies: the header is ignored, since any client could set it');
  }
}

/** `signer.config.keysRotationPeriod` (or `expiry.signingKeys`) under 30s works as 30s. */
function checkRotationPeriod(config: DexConfig, warnings: string[]): void {
  const signerConfig = config.signer?.config ?? {};
  const rotationKey = signerConfig.keysRotationPeriod !== undefined ? 'signer.config.keysRotationPeriod' : 'expiry.signingKeys';
  const rotationPeriod = signerConfig.keysRotationPeriod ?? config.expiry?.signingKeys;
  if (rotationPeriod !== undefined && parseDuration(rotationPeriod) < MIN_ROTATION_MS) {
    warnings.push(`${rotationKey} "${rotationPeriod}" is shorter than 30s: the signing keys rotate every 30s (as in Dex, which checks them every 30s)`);
  }
}
