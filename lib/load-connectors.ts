/**
 * Creates the configured connectors from the registry (and the password DB as `local`); an
 * existing Passport strategy handed in for a connector id stands in for the connector's own,
 * mapped by its type's `fromPassportUser`.
 */
import type { Logger } from 'pino';
import type { Settings } from './config/settings.js';
import type { LoadedConnector } from './context.js';
import { issuesUnder } from './config/load.js';
import { ConfigError, errorMessage } from './errors.js';
import { createPasswordDB } from './password-db.js';
import type { BrokerOptions } from './broker.js';

/**
 * Whether `strategy` is a passport-oauth2 strategy (passport-github2, passport-gitlab2, ...) built
 * without `state: true` or a `store`: passport-oauth2 then keeps its NullStore, which accepts any
 * callback. Handed to the broker, `/callback/<id>` would finish whatever login a browser has in
 * progress with any code sent to it, an attacker's included (login CSRF).
 */
function checksNoOAuthState(strategy: object): boolean {
  const store = (strategy as { _stateStore?: unknown })._stateStore;
  return typeof store === 'object' && store !== null && store.constructor.name === 'NullStore';
}

const guarded = Symbol('dexpress: callbacks guarded');

/**
 * A handed-over passport-oauth2 strategy reads the upstream's answers in callbacks that node-oauth
 * calls outside any `try`: an answer its package does not expect (passport-bitbucket-oauth2 reads
 * `links.html.href` unchecked) throws there, uncaught, and would end the whole process. Wrapped,
 * such an exception is handed to the same callback as its error instead: the packages check that
 * first, so the login ends in Passport's `error` (a 502 page). A callback that throws again is
 * logged, and the login runs into the strategy time-out.
 */
export function guardOAuth2Callbacks(strategy: object, logger: Logger): void {
  const oauth2 = (strategy as { _oauth2?: unknown })._oauth2 as Record<string | symbol, unknown> | undefined;
  if (typeof oauth2 !== 'object' || oauth2 === null || oauth2[guarded] === true) return;
  for (const method of ['get', 'getOAuthAccessToken']) {
    const original = oauth2[method];
    if (typeof original !== 'function') continue;
    oauth2[method] = function (this: unknown, ...args: unknown[]): unknown {
      const callback = args.at(-1);
      if (typeof callback === 'function') {
        args[args.length - 1] = function (this: unknown, ...results: unknown[]): unknown {
          try {
            return callback.apply(this, results);
          } catch (err) {
            try {
              return callback.call(this, new Error(`the Passport strategy could not read the answer: ${errorMessage(err)}`, { cause: err }));
            } catch (again) {
              logger.error({ err: again }, 'a handed-over Passport strategy threw reading an upstream answer');
              return undefined;
            }
          }
        };
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  oauth2[guarded] = true;
}

export async function loadConnectors(settings: Settings, options: BrokerOptions, logger: Logger): Promise<Map<string, LoadedConnector>> {
  const out = new Map<string, LoadedConnector>();
  const foreignIds = Object.keys(options.passportStrategies ?? {});
  for (const id of foreignIds) {
    if (!settings.connectors.some((c) => c.id === id)) {
      throw new ConfigError([{ path: `passportStrategies.${id}`, message: `no connector with id "${id}" in the config` }]);
    }
    if (checksNoOAuthState(options.passportStrategies![id]!)) {
      throw new ConfigError([
        {
          path: `passportStrategies.${id}`,
          message: 'this OAuth 2.0 strategy checks no state, so its callback would accept any code (login CSRF): construct it with state: true (and pkce: true)',
        },
      ]);
    }
  }
  for (const [index, entry] of settings.connectors.entries()) {
    const module = options.connectors.get(entry.type)!;
    const context = {
      id: entry.id,
      name: entry.name,
      issuer: settings.issuer,
      callbackURL: `${settings.issuerBase}/callback`,
      logger: logger.child({ connector: entry.id, type: entry.type }),
    };
    let connector;
    try {
      connector = await module.create(entry.config as never, context);
    } catch (err) {
      // A connector names paths in its own config; the operator needs them in the file's terms.
      if (err instanceof ConfigError) throw new ConfigError(issuesUnder(`connectors[${index}].config`, err.issues));
      throw err;
    }
    const foreignStrategy = options.passportStrategies?.[entry.id];
    let foreign: LoadedConnector['foreign'];
    if (foreignStrategy) {
      if (!module.fromPassportUser) {
        throw new ConfigError([{ path: `passportStrategies.${entry.id}`, message: `connector type "${entry.type}" cannot map a third-party Passport strategy` }]);
      }
      guardOAuth2Callbacks(foreignStrategy, context.logger);
      const map = module.fromPassportUser.bind(module);
      foreign = { strategy: foreignStrategy, toIdentity: (user) => map(user, entry.config as never) };
    }
    out.set(entry.id, {
      id: entry.id,
      type: entry.type,
      name: entry.name,
      connector,
      ...(foreign ? { foreign } : {}),
      ...(entry.grantTypes ? { grantTypes: entry.grantTypes } : {}),
    });
  }
  if (settings.passwordDB.enabled) {
    out.set('local', { id: 'local', type: 'local', name: 'Email', connector: createPasswordDB(settings.passwordDB.users) });
  }
  return out;
}
