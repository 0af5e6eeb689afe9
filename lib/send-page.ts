/** The broker's own pages (errors, notices): sent with their Content-Security-Policy, never cached. */
import type { Response } from 'express';
import type { BrokerContext } from './context.js';
import { errorPage } from './web/pages.js';

/**
 * The broker's pages have no script and load nothing from elsewhere but the configured logo.
 * `form-action` is left out on purpose: browsers apply it to the redirect that follows a form
 * post, which would block the approval page's redirect back to the client.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'";

export function sendPage(res: Response, status: number, body: string): void {
  if (!res.get('Content-Security-Policy')) res.set('Content-Security-Policy', PAGE_CSP);
  res.status(status).type('html').set('Cache-Control', 'no-store').send(body);
}

export function showError(ctx: BrokerContext, res: Response, status: number, title: string, message: string, hint?: string): void {
  sendPage(res, status, errorPage(ctx.page, { title, message, ...(hint ? { hint } : {}) }));
}

/** The 403 page for a login step taken in another browser than the one that started the login (`isBoundToBrowser`). */
export function showStartedElsewhere(ctx: BrokerContext, res: Response, step: 'finished' | 'approved'): void {
  showError(ctx, res, 403, 'Login started elsewhere', `This login was started in another browser, so it cannot be ${step} in this one.`, 'Go back to the application and log in again from this browser (with cookies allowed for this site).');
}
