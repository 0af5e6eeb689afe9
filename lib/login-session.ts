/**
 * The broker's own login session: after a successful login, the browser's session (express-session
 * on the broker's storage, so every instance sees it) remembers who logged in, with which
 * connector and when. `prompt=none` and `max_age` use it; logout forgets it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { secretsEqual } from './clients.js';
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
/** A random id for this browser, kept in its session; auth requests it starts carry its hash. */
const BROWSER = 'dexpress:browser';

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
 * The binding of an auth request to the browser that starts it (`AuthRequest.browser`): the hash
 * of a random id kept in the browser's session, created the first time and never rewritten, so
 * logins started at once in several tabs do not overwrite each other's binding. Only the browser
 * that started a login may finish it: a callback URL (or an IdP's auto-post form, a password
 * form, an approval URL) taken from an attacker's own login and replayed in a victim's browser
 * would otherwise plant the attacker's identity in the victim's login session (login CSRF).
 */
export function browserBinding(req: Request): string | undefined {
  const session = (req as SessionRequest).session;
  if (!session) return undefined;
  let id = session[BROWSER];
  if (typeof id !== 'string') session[BROWSER] = id = randomBytes(18).toString('base64url');
  return hashOf(id as string);
}

/** Whether this browser started the auth request (see `browserBinding`). */
export function isBoundToBrowser(req: Request, authReq: { browser?: string | undefined }): boolean {
  const id = (req as SessionRequest).session?.[BROWSER];
  return typeof id === 'string' && typeof authReq.browser === 'string' && secretsEqual(hashOf(id), authReq.browser);
}

const hashOf = (id: string) => createHash('sha256').update(id).digest('base64url');

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

export function forgetLogin(req: Request): void {
  const session = (req as SessionRequest).session;
  if (session) delete session[KEY];
}
