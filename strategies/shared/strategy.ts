/**
 * Base class of every dexpress strategy. Subclasses implement `handle()` and return an outcome
 * (or throw); the base turns it into exactly one of Passport's `success / fail / redirect /
 * error`, so no strategy can end twice or not at all. `AccessDeniedError` becomes `fail` (a
 * refused user is not an error); anything else thrown becomes `error`.
 *
 * Passport calls `authenticate` on a fresh `Object.create(strategy)` per request, so no state
 * lives on `this` between requests: what must survive the round trip to the upstream goes into
 * `loginStateFor(req, options)`.
 */
import type { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { isBrokerOptions, type BrokerAuthenticateOptions, type LoginState } from '../../lib/connector.js';
import { AccessDeniedError, UpstreamError } from '../../lib/errors.js';
import type { Identity, JsonValue, Scopes } from '../../lib/identity.js';

export type StrategyOutcome =
  | { type: 'success'; identity: Identity }
  | { type: 'redirect'; url: string }
  /** The strategy wrote the response itself (an auto-submitting form). */
  | { type: 'handled' };

/** The per-request methods Passport (or the broker) puts on the object it calls. */
interface PassportActions {
  success(user: Identity, info?: object): void;
  fail(challenge?: { message: string } | string, status?: number): void;
  redirect(url: string, status?: number): void;
  error(err: unknown): void;
}

type SessionRequest = Request & { session?: Record<string, unknown> };

export abstract class BrokerStrategy extends Strategy {
  name: string;

  constructor(name: string) {
    super();
    this.name = name;
  }

  protected abstract handle(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome>;

  override authenticate(req: Request, options?: unknown): void {
    const actions = this as unknown as PassportActions;
    const opts: BrokerAuthenticateOptions | StandaloneOptions = isBrokerOptions(options)
      ? options
      : { broker: false, ...(typeof options === 'object' && options !== null ? options : {}) };
    this.handle(req, opts)
      .then(
        (outcome) => {
          if (outcome.type === 'success') actions.success(outcome.identity);
          else if (outcome.type === 'redirect') actions.redirect(outcome.url);
        },
        (err: unknown) => {
          if (err instanceof AccessDeniedError) actions.fail({ message: err.message }, err.status);
          else actions.error(err);
        },
      )
      .catch((err: unknown) => afterEnding(req, err));
  }

  /**
   * Where to keep state between the redirect upstream and the callback: the broker's auth
   * request, or (used alone with Passport) the express-session.
   */
  protected loginStateFor(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): LoginState {
    if (options.broker) return options.loginState;
    const session = (req as SessionRequest).session;
    if (!session) throw new Error(`strategy ${this.name} needs express-session (req.session) when used without the broker`);
    const key = `dexpress:${this.name}`;
    return {
      get: async () => session[key] as JsonValue | undefined,
      set: async (value) => {
        session[key] = value;
      },
    };
  }
}

/**
 * The strategy has ended, and the code Passport ran for that ending threw: the app's own (a custom
 * `passport.authenticate` callback, say). A synchronous strategy's caller would have had Express
 * catch it; here it would be an unhandled rejection, which ends a Node 20 process. It goes where
 * Express would have sent it: to the error handlers after the route (the strategy is not asked
 * to end again).
 */
function afterEnding(req: Request, err: unknown): void {
  const next: unknown = (req as { next?: unknown }).next;
  if (typeof next !== 'function') throw err;
  (next as (err: unknown) => void)(err);
}

/** Options when a strategy is used as a plain Passport strategy (`passport.authenticate(name, opts)`). */
export interface StandaloneOptions {
  broker: false;
  /** The callback URL when the strategy's config sets none (a configured `redirectURI` wins). */
  callbackURL?: string;
  /** Scopes to ask upstream for; a plain Passport app usually wants groups. */
  scopes?: { offlineAccess: boolean; groups: boolean };
}

// What `passport.authenticate(name, options)` may pass a dexpress strategy used alone, typed for
// apps (`@types/passport` lists neither; `callbackURL` is also passport-oauth2's).
declare module 'passport' {
  interface AuthenticateOptions {
    /** See `StandaloneOptions.scopes`. */
    scopes?: { offlineAccess: boolean; groups: boolean } | undefined;
    /** See `StandaloneOptions.callbackURL`. */
    callbackURL?: string | undefined;
  }
}

/** The scopes a login asks upstream for: the broker's, or (alone with Passport) groups included. */
export function scopesOf(options: BrokerAuthenticateOptions | StandaloneOptions): Scopes {
  return options.broker ? options.scopes : (options.scopes ?? { offlineAccess: false, groups: true });
}

/**
 * An OAuth 2.0 callback carrying `error` (RFC 6749 section 4.1.2.1): the user cancelling
 * (`access_denied`) is a refusal, anything else an upstream failure. Returns when there is none.
 */
export function throwCallbackError(query: Record<string, unknown>): void {
  if (typeof query.error !== 'string') return;
  const detail = typeof query.error_description === 'string' ? `: ${query.error_description}` : '';
  if (query.error === 'access_denied') throw new AccessDeniedError(`The login was cancelled or refused upstream${detail}.`);
  throw new UpstreamError(`The identity provider answered ${query.error}${detail}`);
}
