/**
 * The broker's own login session: after a successful login, the browser's session (express-session
 * on the broker's storage, so every instance sees it) remembers who logged in, with which
 * connector and when. `prompt=none` and `max_age` use it; logout forgets it.
 */
import type { Request } from 'express';
import type { Claims, JsonValue } from './identity.js';

export interface LoginSession {
  connectorId: string;
  claims: Claims;
  connectorData?: JsonValue;
  /** Seconds since the epoch. */
  authTime: number;
}

type SessionRequest = Request & { session?: Record<string, unknown> & { regenerate?(cb: (err?: unknown) => void): void } };

const KEY = 'dexpress:login';

export function currentLogin(req: Request): LoginSession | undefined {
  const value = (req as SessionRequest).session?.[KEY];
  return typeof value === 'object' && value !== null ? (value as LoginSession) : undefined;
}

export function rememberLogin(req: Request, login: LoginSession): void {
  const session = (req as SessionRequest).session;
  if (session) session[KEY] = login;
}

export function forgetLogin(req: Request): void {
  const session = (req as SessionRequest).session;
  if (session) delete session[KEY];
}
