/**
 * An upstream's cross-site callback POST (SAML) that came without the SameSite=Lax session
 * cookie, posted once more from this origin so the browser sends it.
 */
import type { Request, Response } from 'express';
import type { BrokerContext } from './context.js';
import { html } from './web/html.js';
import { sendPage } from './send-page.js';

/** The form field that marks a callback POST resubmitted from this origin (`resubmitSameSite`). */
const RESUBMITTED = 'dexpress_resubmitted';

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** A callback POST not yet resubmitted: it may have come cross-site without the Lax cookie. */
export function mayResubmit(req: Request): boolean {
  return req.method === 'POST' && str((req.body as Record<string, unknown> | undefined)?.[RESUBMITTED]) !== '1';
}

/**
 * Answers a cross-site callback POST that came without the session cookie with a page that posts
 * the same fields to the same URL from this origin, so the browser sends its SameSite=Lax cookie
 * this time (a script submits it; without scripts, a button). Marked, so it happens once.
 */
export function resubmitSameSite(ctx: BrokerContext, req: Request, res: Response): void {
  const fields = Object.entries((req.body ?? {}) as Record<string, unknown>).filter(([k, v]) => k !== RESUBMITTED && typeof v === 'string') as [string, string][];
  const action = ctx.url(req.url);
  const body = html`<!doctype html><html><head><meta charset="utf-8"><title>Continue</title></head><body onload="HTMLFormElement.prototype.submit.call(document.forms[0])"><form method="post" action="${action}">${fields.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<input type="hidden" name="${RESUBMITTED}" value="1"><noscript><button type="submit">Continue</button></noscript></form></body></html>`;
  // No form-action: browsers apply it to the redirect after the post too (on to the client).
  res.set('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'");
  sendPage(res, 200, body.html);
}
