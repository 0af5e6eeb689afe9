/**
 * Drives a Passport strategy the way Passport (or the broker) does: a fresh `Object.create`
 * per request with `success / fail / redirect / error`, resolved with whichever it called.
 */
import type { Request } from 'express';
import type { Strategy } from 'passport';
import type { BrokerAuthenticateOptions, LoginState } from '../../../lib/connector.js';
import type { Identity, JsonValue, Scopes } from '../../../lib/identity.js';

export type Outcome =
  | { type: 'success'; identity: Identity }
  | { type: 'fail'; message: string; status: number | undefined }
  | { type: 'redirect'; url: string }
  | { type: 'error'; error: unknown };

export function drive(strategy: Strategy, req: Partial<Request>, options: object): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = Object.create(strategy) as Record<string, unknown> & { authenticate(req: Request, options: object): void };
    s.success = (identity: Identity) => resolve({ type: 'success', identity });
    s.fail = (challenge: { message: string } | string | undefined, status?: number) =>
      resolve({ type: 'fail', message: typeof challenge === 'string' ? challenge : (challenge?.message ?? ''), status });
    s.redirect = (url: string) => resolve({ type: 'redirect', url });
    s.error = (error: unknown) => resolve({ type: 'error', error });
    s.pass = () => resolve({ type: 'error', error: new Error('strategy passed') });
    s.authenticate(req as Request, options);
  });
}

/** A login state kept in memory, as the broker keeps it with the auth request. */
export function memoryLoginState(): LoginState & { value: JsonValue | undefined } {
  const state = {
    value: undefined as JsonValue | undefined,
    get: async () => state.value,
    set: async (v: JsonValue) => {
      state.value = v;
    },
  };
  return state;
}

export function brokerOptions(
  callbackURL: string,
  scopes: Partial<Scopes> = {},
  state = `authreq-${Math.random().toString(36).slice(2)}`,
): BrokerAuthenticateOptions {
  return {
    broker: true,
    state,
    scopes: { offlineAccess: false, groups: false, ...scopes },
    callbackURL,
    loginState: memoryLoginState(),
  };
}

/** The query of a callback URL, as Express would parse it into `req.query`. */
export function queryOf(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url).searchParams);
}

export function expectOutcome<T extends Outcome['type']>(outcome: Outcome, type: T): Extract<Outcome, { type: T }> {
  if (outcome.type !== type) {
    const detail = outcome.type === 'error' ? String(outcome.error) : JSON.stringify(outcome);
    throw new Error(`expected ${type}, got ${outcome.type}: ${detail}`);
  }
  return outcome as Extract<Outcome, { type: T }>;
}
