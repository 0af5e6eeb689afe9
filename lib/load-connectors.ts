/**
 * Creates the configured connectors from the registry (and the password DB as `local`); an
 * existing Passport strategy handed in for a connector id stands in for the connector's own,
 * mapped by its type's `fromPassportUser`.
 */
import type { Logger } from 'pino';
import type { Settings } from './config/settings.js';
import type { LoadedConnector } from './context.js';
import { issuesUnder } from './config/issues.js';
import type { Connector } from './connector.js';
import { ConfigError, errorMessage, OAuthError, RefreshFailedError, UpstreamError } from './errors.js';
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

/** Calls `handler` if `value` is a promise (any thenable: callbacks may come from another realm) that rejects. */
function onRejection(value: unknown, handler: (err: unknown) => unknown): void {
  const then = (value as { then?: unknown } | null)?.then;
  // The handler's own result is dropped: a promise it returns must not become this chain's rejection.
  if (typeof then === 'function') (then as (ok: undefined, fail: (err: unknown) => void) => unknown).call(value, undefined, (err) => void handler(err));
}

/**
 * `callback`, except that an exception it throws (or a promise it returns that rejects) is handed
 * to it once more as its error: node-oauth calls it outside any `try`, so the exception would be
 * uncaught and end the process. The packages check the error first, so the login ends in
 * Passport's `error` (a 502 page). A callback that fails again is logged, and the login runs into
 * the strategy time-out.
 */
function guardedCallback(callback: (...results: unknown[]) => unknown, logger: Logger): (...results: unknown[]) => unknown {
  const failedAgain = (again: unknown) => logger.error({ err: again }, 'a handed-over Passport strategy failed reading an upstream answer');
  return function (this: unknown, ...results: unknown[]): unknown {
    const retry = (err: unknown): unknown => {
      try {
        const again = callback.call(this, new Error(`the Passport strategy could not read the answer: ${errorMessage(err)}`, { cause: err }));
        onRejection(again, failedAgain);
        return again;
      } catch (again) {
        failedAgain(again);
        return undefined;
      }
    };
    try {
      const result = callback.apply(this, results);
      onRejection(result, retry);
      return result;
    } catch (err) {
      return retry(err);
    }
  };
}

/**
 * The strategy the broker runs for a handed-over passport-oauth2 strategy: the app's own, seen
 * through an object whose node-oauth client guards every callback of `_request` (which `get`,
 * `getProtectedResource` and `getOAuthAccessToken` go through), so an answer its package does not
 * expect (passport-bitbucket-oauth2 reads `links.html.href` unchecked) fails that login instead of
 * the process. The app's strategy object, and its own logins through it, are left as they are.
 * Any other strategy is returned unchanged.
 */
export function guardedStrategy<S extends object>(strategy: S, logger: Logger): S {
  const oauth2 = (strategy as { _oauth2?: unknown })._oauth2 as { _request?: unknown } | undefined;
  if (typeof oauth2 !== 'object' || oauth2 === null || typeof oauth2._request !== 'function') return strategy;
  const request = oauth2._request as (...args: unknown[]) => unknown;
  const client = Object.create(oauth2) as { _request: (...args: unknown[]) => unknown };
  client._request = function (this: unknown, ...args: unknown[]): unknown {
    const callback = args.at(-1);
    if (typeof callback === 'function') args[args.length - 1] = guardedCallback(callback as (...results: unknown[]) => unknown, logger);
    return request.apply(this, args);
  };
  const view = Object.create(strategy) as S & { _oauth2: unknown };
  view._oauth2 = client;
  return view;
}

/**
 * Stands in for a connector whose `create` failed on something other than its config (an
 * upstream unreachable for discovery), as Dex (2.44+) does: the broker starts without it, and
 * each use opens it again (one attempt at a time), the first success replacing the stand-in in
 * `loaded`. Until then a login shows the upstream error (502) and a refresh answers 503 with the
 * refresh token kept. Only the connectors that reach upstream in `create` come here; none of
 * them are password connectors or serve routes of their own.
 */
function reopening(loaded: LoadedConnector, open: () => Promise<Connector>): Connector {
  let opening: Promise<Connector> | undefined;
  const reopen = () => {
    opening ??= open().then(
      (connector) => (loaded.connector = connector),
      (err: unknown) => {
        opening = undefined;
        throw err instanceof UpstreamError ? err : new UpstreamError(`connector ${loaded.id} could not be opened: ${errorMessage(err)}`, { cause: err });
      },
    );
    return opening;
  };
  const strategy = {
    name: loaded.type,
    // `this` is runStrategy's per-request object, carrying success / fail / redirect / pass / error.
    authenticate(this: Record<string, unknown> & { error(err: unknown): void }, req: unknown, options: unknown) {
      reopen().then(
        (connector) => {
          const run = Object.create(connector.strategy) as Record<string, unknown> & { authenticate(req: unknown, options: unknown): unknown };
          for (const action of ['success', 'fail', 'redirect', 'pass', 'error'] as const) run[action] = this[action];
          return run.authenticate(req, options);
        },
        (err: unknown) => this.error(err),
      );
    },
  };
  return {
    strategy: strategy as unknown as Connector['strategy'],
    async refresh(identity, scopes) {
      const connector = await reopen();
      if (!connector.refresh) throw new RefreshFailedError(`connector ${loaded.id} does not refresh`);
      return connector.refresh(identity, scopes);
    },
    async tokenIdentity(type, token) {
      const connector = await reopen();
      if (!connector.tokenIdentity) throw new OAuthError('invalid_request', `Connector "${loaded.id}" does not support token exchange.`);
      return connector.tokenIdentity(type, token);
    },
  };
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
  const failures: unknown[] = [];
  for (const [index, entry] of settings.connectors.entries()) {
    const module = options.connectors.get(entry.type)!;
    const context = {
      id: entry.id,
      name: entry.name,
      issuer: settings.issuer,
      callbackURL: `${settings.issuerBase}/callback`,
      logger: logger.child({ connector: entry.id, type: entry.type }),
    };
    const open = async () => module.create(entry.config as never, context);
    let connector: Connector | undefined;
    try {
      connector = await open();
    } catch (err) {
      // A connector names paths in its own config; the operator needs them in the file's terms.
      if (err instanceof ConfigError) throw new ConfigError(issuesUnder(`connectors[${index}].config`, err.issues));
      failures.push(err);
      context.logger.error({ err }, `connector ${entry.id} could not be opened; starting without it, it is opened again at its next use`);
    }
    const foreignStrategy = options.passportStrategies?.[entry.id];
    let foreign: LoadedConnector['foreign'];
    if (foreignStrategy) {
      if (!module.fromPassportUser) {
        throw new ConfigError([{ path: `passportStrategies.${entry.id}`, message: `connector type "${entry.type}" cannot map a third-party Passport strategy` }]);
      }
      const map = module.fromPassportUser.bind(module);
      foreign = { strategy: guardedStrategy(foreignStrategy, context.logger), toIdentity: (user) => map(user, entry.config as never) };
    }
    const loaded: LoadedConnector = {
      id: entry.id,
      type: entry.type,
      name: entry.name,
      connector: connector as Connector,
      ...(foreign ? { foreign } : {}),
      ...(entry.grantTypes ? { grantTypes: entry.grantTypes } : {}),
    };
    if (!connector) loaded.connector = reopening(loaded, open);
    out.set(entry.id, loaded);
  }
  // As Dex: some connectors failing is logged, all of them failing stops the start.
  if (failures.length > 0 && failures.length === settings.connectors.length && !settings.passwordDB.enabled) throw failures[0];
  if (settings.passwordDB.enabled) {
    out.set('local', { id: 'local', type: 'local', name: 'Email', connector: createPasswordDB(settings.passwordDB.users) });
  }
  return out;
}
