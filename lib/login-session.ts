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

/** The browser's session (express-session), when the route has one. */
export function sessionOf(req: Request): Record<string, unknown> | undefined {
  return (req as SessionRequest).session;
}

export function currentLogin(req: Request): LoginSession | undefined {
  const value = (req as SessionRequest).session?.[KEY];
  return typeof value === 'object' && value !== null ? (value as LoginSession) : undefined;
}

/**
 * Records a login in the browser's session under a new session id (against session fixation:
 * a session id planted before the login never carries it). The session's other entries (a
 * device login in progress) move to the new id.
 */
export async function rememberLogin(req: Request, login: LoginSession): Promise<void> {
  const session = (req as SessionRequest).session;
  if (!session) return;
  const carried = Object.fromEntries(Object.entries(session).filter(([k]) => k !== 'cookie' && k !== KEY));
  if (typeof session.regenerate === 'function') {
    await new Promise<void>((resolve, reject) => session.regenerate!((err) => (err ? reject(err) : resolve())));
  }
  const fresh = (req as SessionRequest).session!;
  Object.assign(fresh, carried);
  fresh[KEY] = login;
}

export function forgetLogin(req: Request): void {
  const session = (req as SessionRequest).session;
  if (session) delete session[KEY];
}
