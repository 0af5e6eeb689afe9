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

type SessionRequest = Request & {
  session?: Record<string, unknown> & { regenerate?(cb: (err?: unknown) => void): void; save?(cb: (err?: unknown) => void): void };
};

const KEY = 'dexpress:login';
/** Auth requests this browser started and has not finished, newest last. */
const PENDING = 'dexpress:pending';
/** How many logins one browser may have in progress at once (tabs); older ones are forgotten. */
const MAX_PENDING = 10;

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

/**
 * Binds an auth request to the browser that starts its connector login, so that only this
 * browser can finish it: a callback URL (or an IdP's auto-post form, or a password form) taken
 * from an attacker's own login and replayed in a victim's browser would otherwise plant the
 * attacker's identity in the victim's login session (login CSRF).
 */
export function bindToBrowser(req: Request, authReqId: string): void {
  const session = (req as SessionRequest).session;
  if (!session) return;
  session[PENDING] = [...pendingOf(session).filter((id) => id !== authReqId), authReqId].slice(-MAX_PENDING);
}

/** Whether this browser started `authReqId` (see `bindToBrowser`). */
export function isBoundToBrowser(req: Request, authReqId: string): boolean {
  const session = (req as SessionRequest).session;
  return session !== undefined && pendingOf(session).includes(authReqId);
}

/**
 * Stores the session now. express-session would save it when the response ends, but it sends
 * the headers first: a browser following a redirect at once (to another instance) could arrive
 * before the session is stored.
 */
export async function saveSession(req: Request): Promise<void> {
  const session = (req as SessionRequest).session;
  if (typeof session?.save !== 'function') return;
  await new Promise<void>((resolve, reject) => session.save!((err) => (err ? reject(err) : resolve())));
}

/** Forgets a finished (or abandoned) auth request from the browser's session. */
export function unbindFromBrowser(req: Request, authReqId: string): void {
  const session = (req as SessionRequest).session;
  if (!session || !Array.isArray(session[PENDING])) return;
  const rest = pendingOf(session).filter((id) => id !== authReqId);
  if (rest.length > 0) session[PENDING] = rest;
  else delete session[PENDING];
}

function pendingOf(session: Record<string, unknown>): string[] {
  const value = session[PENDING];
  return Array.isArray(value) ? value.filter((id): id is string => typeof id === 'string') : [];
}

export function forgetLogin(req: Request): void {
  const session = (req as SessionRequest).session;
  if (session) delete session[KEY];
}
