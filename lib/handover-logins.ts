/**
 * The logins a browser has in flight through a handed-over Passport strategy. Such a strategy
 * keeps its own state, and its answer comes back to `/callback/<id>` without the broker's auth
 * request id, so the browser's session lists the logins started there, each with the value that
 * ties the upstream's answer to it where the strategy's redirect showed one: the OAuth `state`, a
 * SAML `RelayState`, or the AuthnRequest's ID (which the IdP's Response names in `InResponseTo`).
 * An answer goes to the login it names; one that names none of them goes to the only one that
 * could not be named (or, naming nothing at all, to the only login in flight), and is refused
 * when there are several (it could finish the wrong one).
 */
import { inflateRawSync } from 'node:zlib';
import type { Request } from 'express';
import { sessionOf } from './login-session.js';

interface HandoverLogin {
  /** The auth request. */
  id: string;
  /** What the upstream's answer carries for this login, when the strategy's redirect showed it. */
  upstream?: string;
}

/** Logins kept per connector and browser; starting more forgets the oldest (its answer then finds no login). */
const MAX_LOGINS = 8;

const keyOf = (connectorId: string) => `dexpress:handover:${connectorId}`;

function loginsIn(session: Record<string, unknown>, connectorId: string): HandoverLogin[] {
  const value = session[keyOf(connectorId)];
  return Array.isArray(value) ? (value as HandoverLogin[]) : [];
}

function store(session: Record<string, unknown>, connectorId: string, logins: HandoverLogin[]): void {
  if (logins.length === 0) delete session[keyOf(connectorId)];
  else session[keyOf(connectorId)] = logins.slice(-MAX_LOGINS);
}

/** Records a login started in this browser through connector `connectorId`'s handed-over strategy. */
export function addHandoverLogin(req: Request, connectorId: string, authReqId: string): void {
  const session = sessionOf(req);
  if (!session) throw new Error('browser sessions are not available');
  store(session, connectorId, [...loginsIn(session, connectorId).filter((l) => l.id !== authReqId), { id: authReqId }]);
}

/** The `ID` of a deflated, base64 AuthnRequest (the SAML Redirect binding), if it reads as one. */
function samlRequestId(samlRequest: string): string | undefined {
  try {
    const xml = inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
    return /<(?:\w+:)?AuthnRequest\b[^>]*?\sID="([^"]+)"/.exec(xml)?.[1];
  } catch {
    return undefined;
  }
}

/** The `InResponseTo` of a base64 SAML Response (the POST binding), if it reads as one. */
function samlInResponseTo(samlResponse: string): string | undefined {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  return /<(?:\w+:)?Response\b[^>]*?\sInResponseTo="([^"]+)"/.exec(xml)?.[1];
}

/** Notes what the upstream will answer for this login with, from the URL the strategy redirects the browser to. */
export function noteHandoverRedirect(req: Request, connectorId: string, authReqId: string, redirectURL: string): void {
  const session = sessionOf(req);
  if (!session) return;
  let params: URLSearchParams;
  try {
    params = new URL(redirectURL, 'http://relative.invalid').searchParams;
  } catch {
    return;
  }
  const samlRequest = params.get('SAMLRequest');
  const upstream = params.get('state') || params.get('RelayState') || (samlRequest ? samlRequestId(samlRequest) : undefined);
  if (!upstream) return;
  store(
    session,
    connectorId,
    loginsIn(session, connectorId).map((l) => (l.id === authReqId ? { id: l.id, upstream } : l)),
  );
}

function field(source: unknown, key: string): string | undefined {
  const v = (source as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** What the upstream's answer names its login by (the values `noteHandoverRedirect` looks for). */
function answerNames(req: Request): string[] {
  const samlResponse = field(req.body, 'SAMLResponse') ?? field(req.query, 'SAMLResponse');
  return [
    field(req.query, 'state'),
    field(req.body, 'RelayState') ?? field(req.query, 'RelayState'),
    samlResponse ? samlInResponseTo(samlResponse) : undefined,
  ].filter((v): v is string => v !== undefined);
}

/**
 * The login this answer finishes, taken off the browser's list: the one it names; else (an answer
 * that names nothing) the only login in flight; else the only one started without a name. `ambiguous` when it names none and
 * several were started without a name (those are dropped, so the next login started here finishes
 * normally); undefined when there is none.
 */
export function takeHandoverLogin(req: Request, connectorId: string): string | 'ambiguous' | undefined {
  const session = sessionOf(req);
  if (!session) return undefined;
  const logins = loginsIn(session, connectorId);
  const names = answerNames(req);
  const named = logins.find((l) => l.upstream !== undefined && names.includes(l.upstream));
  // An answer that names a login not in flight here (a stale or replayed one) finishes none of the named ones.
  const candidates = named ? [named] : names.length === 0 && logins.length === 1 ? logins : logins.filter((l) => l.upstream === undefined);
  store(session, connectorId, logins.filter((l) => !candidates.includes(l)));
  if (candidates.length === 0) return undefined;
  return candidates.length === 1 ? candidates[0]!.id : 'ambiguous';
}
