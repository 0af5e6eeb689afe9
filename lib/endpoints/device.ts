/**
 * The browser and device sides of the device authorization grant (RFC 8628), at Dex's paths:
 * - `POST /device/code`: the device asks for a device code and a user code;
 * - `GET /device`: the page where the user types the user code;
 * - `POST /device/auth/verify_code`: checks the code (wrong codes are counted per address and
 *   bounded), then starts an ordinary browser login for the device's client;
 * - `GET /device/login/:connector`: the connector picked from the list, when there is a choice;
 * - `GET /device/callback`: where that login ends; records who logged in on the device token.
 *
 * The login runs through the same machinery as `/auth` (connector, callback, approval) with the
 * broker's own `<issuer>/device/callback` as its redirect URI. That URI is set here, never
 * accepted from a request, so clients need not register it and `/auth` cannot be pointed at it.
 * The login's `state` is a random id bound to the browser session that entered the code.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Request, Response } from 'express';
import { connectorsFor, newAuthRequestId, singleParams, type AuthRequest } from '../auth-request.js';
import { checkPkce } from '../pkce.js';
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { bindingOf, startConnectorLogin } from '../flow.js';
import { isUsedCode, type AuthCode, type UsedCode } from '../auth-code.js';
import { sendPage, showError } from '../send-page.js';
import { DEVICE_CODE_GRANT, EXPIRED_TOKEN_GRACE_MS, POLL_INTERVAL_S, type DeviceRequest, type DeviceToken } from '../grants/device-code.js';
import { checkScopeParam } from '../grants/scopes.js';
import { connectorAllowed } from '../grants/respond.js';
import { deviceCodePage, deviceDonePage, deviceRefusedPage } from '../web/device.js';
import { connectorListPage } from '../web/pages.js';
import { secretsEqual } from '../clients.js';
import { sessionOf as browserSession } from '../login-session.js';
import { throttleAddress } from '../throttle.js';

/** Letters a user code is made of: no vowels (no words), nothing easily confused (Dex's set). */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** Wrong user codes one address may enter per window before the page refuses to look codes up. */
export const MAX_WRONG_CODES = 10;
export const WRONG_CODES_WINDOW_MS = 15 * 60_000;

type Session = Record<string, unknown>;
const CSRF_KEY = 'dexpress:device:csrf';
const loginKey = (loginId: string) => `dexpress:device:${loginId}`;

function sessionOf(req: Request): Session {
  const sess = browserSession(req);
  if (!sess) throw new Error('browser sessions are not available');
  return sess;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** `XXXX-XXXX` from eight random letters of the alphabet. */
export function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What the user typed, as the stored form (`XXXX-XXXX`), or undefined if it cannot be a code.
 * As RFC 8628 section 6.1 asks: case, spaces and punctuation are ignored (an en dash from a
 * phone keyboard, a dot), and fullwidth letters are read as letters (NFKC); letters and digits
 * are kept, so a mistyped code stays wrong.
 */
export function normalizeUserCode(typed: string): string | undefined {
  const letters = typed.normalize('NFKC').toUpperCase().replace(/[\s\p{P}]/gu, '');
  if (letters.length !== 8 || [...letters].some((c) => !USER_CODE_ALPHABET.includes(c))) return undefined;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

function deviceGrantEnabled(ctx: BrokerContext): boolean {
  return (ctx.settings.oauth2.grantTypes as string[]).includes(DEVICE_CODE_GRANT);
}

/** The connectors a device login of this client may use. */
function deviceConnectors(ctx: BrokerContext, client: ClientSettings): string[] {
  return connectorsFor(ctx, client).filter((id) => connectorAllowed(ctx, client.allowedConnectors, id, DEVICE_CODE_GRANT));
}

// ---------------------------------------------------------------------------------------------
// The device: POST /device/code

export async function deviceAuthorization(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  if (!deviceGrantEnabled(ctx)) throw new OAuthError('unsupported_grant_type', 'The device authorization grant is not enabled.');
  if (!req.is('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'The device authorization request must be sent as application/x-www-form-urlencoded.');
  }
  const body: Record<string, string> = {};
  for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new OAuthError('invalid_request', `The parameter "${k}" was sent more than once.`);
    body[k] = v;
  }
  const client = ctx.clients.authenticate(req, body);
  if (deviceConnectors(ctx, client).length === 0) {
    throw new OAuthError('unauthorized_client', `Client "${client.id}" may not use any connector with the device grant.`);
  }
  const scopes = checkScopeParam(ctx, client, body.scope?.trim() ? body.scope : 'openid');
  // PKCE is optional here, as in Dex: the device code never passes through a browser, so the
  // public-client and `pkce.enforce` requirements of `/auth` do not apply (kubectl sends none).
  const pkce =
    body.code_challenge !== undefined || body.code_challenge_method !== undefined
      ? checkPkce(ctx, { public: false }, body, (error, description) => {
          throw new OAuthError(error, description);
        })
      : undefined;
  const now = ctx.now();
  const expiresAt = now + ctx.settings.expiry.deviceRequestsMs;
  const deviceCode = randomBytes(32).toString('base64url');
  let userCode = newUserCode();
  for (let i = 0; !(await ctx.storage.create<DeviceRequest>('deviceRequest', userCode, { deviceCode, clientId: client.id, scopes, expiresAt }, { expiresAt })); i++) {
    if (i >= 5) throw new Error('could not find a free user code');
    userCode = newUserCode();
  }
  const token: DeviceToken = { clientId: client.id, scopes, ...(pkce ? { pkce } : {}), expiresAt, lastPollAt: now, intervalS: 0, status: 'pending' };
  await ctx.storage.create<DeviceToken>('deviceToken', deviceCode, token, { expiresAt: expiresAt + EXPIRED_TOKEN_GRACE_MS });
  ctx.logger.info({ client: client.id, scopes }, 'device authorization started');
  const verificationURI = ctx.url('/device');
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json({
    device_code: deviceCode,
    user_code: userCode,
    verification_uri: verificationURI,
    verification_uri_complete: `${verificationURI}?user_code=${encodeURIComponent(userCode)}`,
    expires_in: Math.round(ctx.settings.expiry.deviceRequestsMs / 1000),
    interval: POLL_INTERVAL_S,
  });
}

// ---------------------------------------------------------------------------------------------
// The browser: GET /device, POST /device/auth/verify_code

function csrfFor(req: Request): string {
  const sess = sessionOf(req);
  if (typeof sess[CSRF_KEY] !== 'string') sess[CSRF_KEY] = randomBytes(24).toString('base64url');
  return sess[CSRF_KEY] as string;
}

function csrfValid(req: Request, got: string): boolean {
  const expected = sessionOf(req)[CSRF_KEY];
  if (typeof expected !== 'string') return false;
  return secretsEqual(got, expected);
}

function renderCodePage(ctx: BrokerContext, req: Request, res: Response, status: number, userCode: string, error?: string): void {
  sendPage(res, status, deviceCodePage(ctx.page, { action: ctx.url('/device/auth/verify_code'), userCode, csrf: csrfFor(req), ...(error ? { error } : {}) }));
}

export async function deviceCodeEntry(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  if (!deviceGrantEnabled(ctx)) return showError(ctx, res, 404, 'Not found', 'There is nothing at this address.');
  let params;
  try {
    params = singleParams(req.query);
  } catch {
    params = {};
  }
  renderCodePage(ctx, req, res, 200, (params.user_code ?? '').slice(0, 20));
}

/** Wrong user codes per address (an IPv6 one by its /64, `throttleAddress`): a counter (`storage.increment`) for `WRONG_CODES_WINDOW_MS`. */
const wrongCodesId = (ctx: BrokerContext, req: Request) => `device:${throttleAddress(ctx.clientAddress(req))}`;

/** Seconds until this address may enter codes again, or 0 when it may now. */
async function lockedFor(ctx: BrokerContext, req: Request): Promise<number> {
  const rec = await ctx.storage.find<unknown>('loginAttempts', wrongCodesId(ctx, req));
  // (A record from before counters were integers, `{ count }`, counts as none.)
  if (!rec || typeof rec.value !== 'number' || rec.value < MAX_WRONG_CODES) return 0;
  return Math.max(1, Math.ceil(((rec.expiresAt ?? ctx.now()) - ctx.now()) / 1000));
}

/**
 * Counts an entered code before it is looked up, in one atomic step, and says whether it is over
 * the limit (then it is not counted): parallel guesses each see their own place in the count.
 */
async function countCode(ctx: BrokerContext, req: Request): Promise<{ over: boolean; windowEnd: number }> {
  const windowEnd = ctx.now() + WRONG_CODES_WINDOW_MS;
  const n = await ctx.storage.increment('loginAttempts', wrongCodesId(ctx, req), 1, windowEnd);
  if (n > MAX_WRONG_CODES) await uncountCode(ctx, req, windowEnd);
  return { over: n > MAX_WRONG_CODES, windowEnd };
}

/** Takes a counted code back (a right one, or one over the limit), within its own window only. */
async function uncountCode(ctx: BrokerContext, req: Request, windowEnd: number): Promise<void> {
  if (ctx.now() < windowEnd) await ctx.storage.increment('loginAttempts', wrongCodesId(ctx, req), -1, null);
}

export async function verifyUserCode(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  if (!deviceGrantEnabled(ctx)) return showError(ctx, res, 404, 'Not found', 'There is nothing at this address.');
  const body = (req.body ?? {}) as Record<string, unknown>;
  const typed = str(body.user_code).trim().slice(0, 20);
  if (!csrfValid(req, str(body.csrf))) {
    return renderCodePage(ctx, req, res, 403, typed, 'This form has expired. Check the code and submit it again.');
  }
  if (typed === '') return renderCodePage(ctx, req, res, 400, '', 'Enter the code your device shows.');
  const counted = await countCode(ctx, req);
  if (counted.over) {
    ctx.logger.warn({ ip: ctx.clientAddress(req) }, 'device code entry locked: too many wrong codes');
    res.set('Retry-After', String(Math.max(1, await lockedFor(ctx, req))));
    return showError(ctx, res, 429, 'Too many attempts', 'Too many wrong codes were entered from this network.', 'Wait a few minutes, then start again on your device.');
  }
  const userCode = normalizeUserCode(typed);
  const rec = userCode ? await ctx.storage.find<DeviceRequest>('deviceRequest', userCode) : undefined;
  const client = rec ? ctx.clients.get(rec.value.clientId) : undefined;
  if (!userCode || !rec || !client || ctx.now() > rec.value.expiresAt) {
    ctx.logger.info('device code entry: unknown or expired user code');
    return renderCodePage(ctx, req, res, 400, typed, 'This code is wrong or has expired. Check the code on your device, or start again there to get a new one.');
  }
  await uncountCode(ctx, req, counted.windowEnd); // a right code does not count
  const loginId = randomBytes(18).toString('base64url');
  sessionOf(req)[loginKey(loginId)] = userCode;
  const ids = deviceConnectors(ctx, client);
  if (ids.length === 1 && !ctx.settings.oauth2.alwaysShowLoginScreen) return startDeviceLogin(ctx, req, res, loginId, ids[0]!);
  const href = (id: string) => ctx.url(`/device/login/${encodeURIComponent(id)}?login=${encodeURIComponent(loginId)}`);
  sendPage(res, 200, connectorListPage(ctx.page, ids.map((id) => ({ name: ctx.connectors.get(id)!.name, type: ctx.connectors.get(id)!.type, href: href(id) }))));
}

// ---------------------------------------------------------------------------------------------
// The login: GET /device/login/:connector, then the usual connector, callback and approval

export async function deviceLoginWithConnector(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  await startDeviceLogin(ctx, req, res, str(req.query.login), String(req.params.connector));
}

const loginLost = (ctx: BrokerContext, res: Response) =>
  showError(ctx, res, 400, 'Login expired', 'This device login has expired or was started in another browser.', 'Enter the code from your device again.');

/** Stores an auth request whose redirect URI is the broker's device callback, and starts the connector. */
async function startDeviceLogin(ctx: BrokerContext, req: Request, res: Response, loginId: string, connectorId: string): Promise<void> {
  const userCode = loginId ? sessionOf(req)[loginKey(loginId)] : undefined;
  const rec = typeof userCode === 'string' ? await ctx.storage.find<DeviceRequest>('deviceRequest', userCode) : undefined;
  const client = rec ? ctx.clients.get(rec.value.clientId) : undefined;
  if (!rec || !client || ctx.now() > rec.value.expiresAt) return loginLost(ctx, res);
  const conn = ctx.connectors.get(connectorId);
  if (!conn || !deviceConnectors(ctx, client).includes(connectorId)) {
    return showError(ctx, res, 400, 'Bad request', `Client "${client.id}" may not use this login method for a device.`);
  }
  const authReq: AuthRequest = {
    id: newAuthRequestId(),
    clientId: client.id,
    redirectURI: ctx.url('/device/callback'),
    scopes: rec.value.scopes,
    state: loginId,
    responseMode: 'query',
    connectorId,
    hmacKey: randomBytes(32).toString('base64url'),
    ...bindingOf(req),
    createdAt: ctx.now(),
  };
  await ctx.storage.create('authRequest', authReq.id, authReq, { expiresAt: rec.value.expiresAt });
  await startConnectorLogin(ctx, req, res, authReq, conn);
}

// ---------------------------------------------------------------------------------------------
// GET /device/callback: the login's code (or error) comes back to the broker itself

export async function deviceCallback(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const loginId = str(req.query.state);
  const sess = sessionOf(req);
  const userCode = loginId ? sess[loginKey(loginId)] : undefined;
  if (typeof userCode !== 'string') return loginLost(ctx, res);
  delete sess[loginKey(loginId)];
  const request = await ctx.storage.consume<DeviceRequest>('deviceRequest', userCode);
  const client = request ? ctx.clients.get(request.clientId) : undefined;
  if (!request || !client || ctx.now() > request.expiresAt) {
    return showError(ctx, res, 400, 'Code expired', 'This device code has expired or was already used.', 'Start again on your device to get a new code.');
  }
  const clientName = client.name;
  const code = str(req.query.code);
  if (!code) {
    const refused = str(req.query.error) === 'access_denied';
    ctx.logger.info({ client: client.id, error: str(req.query.error) }, 'device login ended without a code');
    await settleDeviceToken(ctx, request, { status: 'denied' });
    if (refused) return sendPage(res, 200, deviceRefusedPage(ctx.page, { clientName }));
    return showError(ctx, res, 400, 'Login failed', 'The login did not complete.', 'Start again on your device.');
  }
  const authCode = await ctx.storage.consume<AuthCode | UsedCode>('authCode', code);
  if (!authCode || isUsedCode(authCode) || authCode.clientId !== request.clientId || authCode.redirectURI !== ctx.url('/device/callback')) {
    ctx.logger.warn({ client: client.id }, 'device callback: the code does not belong to this device login');
    return showError(ctx, res, 400, 'Login failed', 'This login does not belong to the device code.', 'Start again on your device.');
  }
  const { connectorId, connectorType, claims, connectorData, authTime } = authCode;
  const settled = await settleDeviceToken(ctx, request, {
    status: 'approved',
    login: { connectorId, connectorType, claims, ...(connectorData !== undefined ? { connectorData } : {}), authTime },
  });
  if (!settled) return showError(ctx, res, 400, 'Code expired', 'This device code has expired or was already used.', 'Start again on your device to get a new code.');
  ctx.logger.info({ client: client.id, connector: connectorId }, 'device login approved');
  sendPage(res, 200, deviceDonePage(ctx.page, { clientName }));
}

/** Moves a pending device token to approved or denied (compare-and-swap); false if it is gone or settled. */
async function settleDeviceToken(ctx: BrokerContext, request: DeviceRequest, change: Pick<DeviceToken, 'status' | 'login'>): Promise<boolean> {
  for (let i = 0; i < 5; i++) {
    const rec = await ctx.storage.find<DeviceToken>('deviceToken', request.deviceCode);
    if (!rec || rec.value.status !== 'pending' || ctx.now() > rec.value.expiresAt) return false;
    if (await ctx.storage.update<DeviceToken>('deviceToken', request.deviceCode, rec.version, { ...rec.value, ...change }, { expiresAt: rec.expiresAt })) return true;
  }
  return false;
}
