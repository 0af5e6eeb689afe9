/**
 * Loads a Dex config: YAML → `$VAR` expansion (connector, storage and signer configs only, as Dex does,
 * so bcrypt hashes in `staticPasswords` stay intact) → schema validation → `idEnv`/`secretEnv`
 * resolution → each connector's own schema → `Settings` with every default applied. Every
 * problem is collected and reported at once, each with its dotted path.
 */
import { readFileSync } from 'node:fs';
import type { ConnectorRegistry } from '../connector.js';
import { ConfigError } from '../errors.js';
import { configSchema } from './schema.js';
import type { Settings } from './settings.js';
import { parseDexYaml, withoutNulls } from './yaml.js';
import { zodIssues, type Issue } from './issues.js';
import { expandConfig, expandsEnv, namingUnsetVariables, type UnsetVariables } from './env-expansion.js';
import { checkableRest, type CheckableConfig } from './checkable-rest.js';
import { unsupportedKeyWarnings } from './unsupported-keys.js';
import { toSettings } from './to-settings.js';
import { listenerIssues } from './listeners.js';

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
    warnings.push(...unsupportedKeyWarnings(config));
    const rest: Issue[] = [];
    settings = toSettings(config, env, options.connectors, rest, warnings, issuerValid);
    issues.push(...rest.map((i) => ({ ...i, path: originalPath(i.path) })));
    if (options.requireLoginMethod && !hasLoginMethod(settings)) issues.push(NO_LOGIN_METHOD);
    if (options.requireListenAddress) issues.push(...listenerIssues(settings));
  }
  if (issues.length > 0 || !settings) throw new ConfigError(namingUnsetVariables(issues, unset));
  return { settings, warnings };
}
