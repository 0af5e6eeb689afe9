/**
 * The device flow's pages (RFC 8628): the user-code entry page at `/device` and the page the
 * browser ends on once the device is approved or refused. Same layout as the other pages.
 */
import { html } from './html.js';
import { layout, type PageOptions } from './pages.js';

export function deviceCodePage(page: PageOptions, opts: { action: string; userCode: string; csrf: string; error?: string }): string {
  return layout(
    page,
    'Enter your code',
    html`<h1>Connect a device</h1>
<p class="muted" id="user-code-help">Enter the code your device or command line shows, for example BCDF-GHJK.</p>
<form method="post" action="${opts.action}">
${opts.error ? html`<p class="error" role="alert" id="user-code-error">${opts.error}</p>` : ''}
<input type="hidden" name="csrf" value="${opts.csrf}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" class="code" required autofocus autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="20" placeholder="XXXX-XXXX" value="${opts.userCode}" aria-describedby="${opts.error ? 'user-code-error user-code-help' : 'user-code-help'}">
<div class="actions"><button id="submit-code" type="submit">Continue</button></div>
</form>`,
  );
}

export function deviceDonePage(page: PageOptions, opts: { clientName: string }): string {
  return layout(
    page,
    'Device connected',
    html`<h1>Login successful for ${opts.clientName}</h1><p>Return to your device to continue. You can close this window.</p>`,
  );
}

export function deviceRefusedPage(page: PageOptions, opts: { clientName: string }): string {
  return layout(
    page,
    'Device not connected',
    html`<h1>Access refused</h1><p>${opts.clientName} was not given access; your device will be told. You can close this window.</p>`,
  );
}
