/**
 * `/callback` (GET with `state` from OAuth upstreams, POST with `RelayState` from SAML IdPs) and
 * `/callback/:connector` (authproxy, and existing Passport strategies whose own state lives in
 * the browser session).
 */
import type { Request, Response } from 'express';
import type { BrokerContext } from '../context.js';
import { handleCallback } from '../flow.js';
import { mayResubmit, resubmitSameSite } from '../callback-resubmit.js';
import { showError } from '../send-page.js';
import { takeHandoverLogin } from '../handover-logins.js';

function param(source: unknown, key: string): string | undefined {
  const v = (source as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export async function callback(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const state = req.method === 'POST' ? param(req.body, 'RelayState') ?? param(req.query, 'state') : param(req.query, 'state');
  if (!state) {
    showError(ctx, res, 400, 'Bad request', 'The callback carries no state.', 'Start the login again from the application.');
    return;
  }
  await handleCallback(ctx, req, res, state);
}

export async function connectorCallback(ctx: BrokerContext, req: Request, res: Response): Promise<void> {
  const conn = ctx.connectors.get(String(req.params.connector));
  if (!conn) {
    showError(ctx, res, 404, 'Not found', 'There is no such login method.');
    return;
  }
  let state: string | undefined;
  if (conn.foreign) {
    const taken = takeHandoverLogin(req, conn.id);
    // An IdP's cross-site POST over plain HTTP comes without the Lax cookie, so without the state:
    // post it once more from this origin (see resubmitSameSite).
    if (taken === undefined && mayResubmit(req)) return resubmitSameSite(ctx, req, res);
    if (taken === 'ambiguous') {
      ctx.logger.warn({ connector: conn.id, requestId: res.locals.requestId }, 'callback refused: several logins in progress in this browser, and the answer names none of them');
      showError(ctx, res, 400, 'Several logins in progress', `More than one login with ${conn.name} was started in this browser, and this answer cannot be matched to one of them.`, 'Start the login again from the application, in one tab.');
      return;
    }
    state = taken;
  } else {
    state = param(req.query, 'state');
  }
  if (!state) {
    showError(ctx, res, 400, 'Login expired', 'This login has expired or was started in another browser.', 'Start the login again from the application.');
    return;
  }
  await handleCallback(ctx, req, res, state, conn.id);
}
