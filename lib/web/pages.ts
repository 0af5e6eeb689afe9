/**
 * The broker's own pages: connector list, password form, approval, errors. Plain server-rendered
 * HTML with no script, one small stylesheet inline, readable on a phone.
 */
import { html, Raw } from './html.js';

export interface PageOptions {
  /** `frontend.issuer`: the name shown on every page. */
  title: string;
  logoURL?: string;
  /** `light`, `dark`, or `auto` (follows the browser's colour scheme). */
  theme: string;
  /** A stylesheet from `frontend.dir` (`themes/<theme>/styles.css`), loaded after the built-in styles. */
  stylesheetURL?: string;
}

const styles = `
:root{color-scheme:light;--bg:#f6f7f9;--fg:#1d2330;--card:#fff;--muted:#4a5568;--accent:#1f5fbf;--on-accent:#fff;--border:#c9d0db;--err:#a61b1b}
@media (prefers-color-scheme:dark){.theme-auto{color-scheme:dark;--bg:#14171c;--fg:#e8ebf0;--card:#1e232b;--muted:#b7c0cc;--accent:#7fb0ff;--on-accent:#0b1220;--border:#3a4350;--err:#ff8a8a}}
.theme-dark{color-scheme:dark;--bg:#14171c;--fg:#e8ebf0;--card:#1e232b;--muted:#b7c0cc;--accent:#7fb0ff;--on-accent:#0b1220;--border:#3a4350;--err:#ff8a8a}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:26rem;margin:3rem auto;padding:0 1rem}.card{background:var(--card);border:1px solid var(--border);border-radius:8px;padding:1.5rem;overflow-wrap:anywhere}a{color:var(--accent)}
h1{font-size:1.35rem;margin:0 0 1rem}header{text-align:center;margin-bottom:1rem}header img{max-height:3rem;max-width:100%}
ul.connectors{list-style:none;padding:0;margin:0}ul.connectors a.connector{display:flex;align-items:center;gap:.75rem;text-align:left}.mark{display:inline-flex;align-items:center;justify-content:center;min-width:1.8rem;height:1.8rem;border-radius:50%;color:#fff;font-weight:700;font-size:.85rem;border:1px solid #fff}ul.connectors li{margin:.5rem 0}
a.button,button{display:block;width:100%;padding:.7rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--on-accent);font:inherit;text-align:center;text-decoration:none;cursor:pointer}
button.secondary{background:transparent;color:var(--accent)}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}input{width:100%;padding:.6rem;font:inherit;border:1px solid var(--border);border-radius:6px;background:var(--card);color:var(--fg)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}.error{color:var(--err);font-weight:600}.muted{color:var(--muted)}
.actions{display:flex;gap:.75rem;margin-top:1.25rem}.actions form{flex:1}ul.scopes{padding-left:1.25rem}
input.code{font-family:ui-monospace,monospace;font-size:1.25rem;letter-spacing:.12em;text-transform:uppercase}
`;

export function layout(page: PageOptions, title: string, body: Raw): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · ${page.title}</title><style>${new Raw(styles)}</style>${page.stylesheetURL ? html`<link rel="stylesheet" href="${page.stylesheetURL}">` : ''}</head>
<body class="theme-${page.theme}"><main>
<header>${page.logoURL ? html`<img src="${page.logoURL}" alt="${page.title}">` : html`<strong>${page.title}</strong>`}</header>
<div class="card">${body}</div></main></body></html>`.html}`;
}

/** A small mark per connector type on the connector list: a letter on the platform's colour. */
const connectorMarks: Record<string, { letter: string; colour: string }> = {
  github: { letter: 'G', colour: '#24292f' },
  gitlab: { letter: 'G', colour: '#c6381f' },
  gitea: { letter: 'G', colour: '#4a7a1f' },
  'bitbucket-cloud': { letter: 'B', colour: '#0747a6' },
  google: { letter: 'G', colour: '#1a5fc8' },
  microsoft: { letter: 'M', colour: '#2f5d8a' },
  linkedin: { letter: 'in', colour: '#0a66c2' },
  ldap: { letter: 'L', colour: '#5b4a8a' },
  saml: { letter: 'S', colour: '#8a4a2f' },
  oidc: { letter: 'O', colour: '#2f6f6a' },
  openshift: { letter: 'O', colour: '#b51f1f' },
  'atlassian-crowd': { letter: 'C', colour: '#0747a6' },
  keystone: { letter: 'K', colour: '#b5331f' },
  authproxy: { letter: 'P', colour: '#4a5568' },
  local: { letter: '@', colour: '#4a5568' },
  mockCallback: { letter: 'M', colour: '#6b4a8a' },
  mockPassword: { letter: 'M', colour: '#6b4a8a' },
};

export function connectorListPage(page: PageOptions, connectors: { name: string; href: string; type?: string }[]): string {
  const mark = (type: string | undefined) => {
    const m = (type && connectorMarks[type]) || { letter: '•', colour: '#4a5568' };
    return html`<span class="mark" style="background:${m.colour}" aria-hidden="true">${m.letter}</span>`;
  };
  return layout(
    page,
    'Log in',
    html`<h1>Log in to ${page.title}</h1><ul class="connectors">${connectors.map(
      (c) => html`<li><a class="button connector" href="${c.href}">${mark(c.type)}<span>Log in with ${c.name}</span></a></li>`,
    )}</ul>`,
  );
}

export function passwordPage(
  page: PageOptions,
  opts: { action: string; prompt: string; username: string; error?: string; backHref?: string; csrf: string },
): string {
  return layout(
    page,
    'Log in',
    html`<h1>Log in to your account</h1>
<form method="post" action="${opts.action}">
${opts.error ? html`<p class="error" role="alert" id="login-error">${opts.error}</p>` : ''}
<input type="hidden" name="csrf" value="${opts.csrf}">
<label for="login">${opts.prompt}</label>
<input id="login" name="login" autocomplete="username" required autofocus value="${opts.username}"${opts.error ? html` aria-describedby="login-error"` : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button id="submit-login" type="submit">Log in</button></div>
</form>${opts.backHref ? html`<p><a href="${opts.backHref}">Choose another login method</a></p>` : ''}`,
  );
}

const scopeText: Record<string, string> = {
  openid: 'Know who you are',
  email: 'View your email address',
  profile: 'View your name and user name',
  groups: 'View your groups',
  offline_access: 'Keep you signed in (refresh tokens)',
  'federated:id': 'View the account you logged in with upstream',
};

export function approvalPage(
  page: PageOptions,
  opts: { clientName: string; scopes: string[]; action: string; req: string; hmac: string; device?: boolean },
): string {
  const items = opts.scopes.map((s) => scopeText[s] ?? (s.startsWith('audience:server:client_id:') ? `Act for ${s.slice(26)}` : s));
  return layout(
    page,
    'Grant access',
    html`<h1>Grant access to ${opts.clientName}</h1>
${opts.device ? html`<p class="muted">You typed a code shown by a device or a command line. Grant access only if you started that login yourself, just now.</p>` : ''}
<p>${opts.clientName} would like to:</p><ul class="scopes">${items.map((i) => html`<li>${i}</li>`)}</ul>
<div class="actions">
<form method="post" action="${opts.action}"><input type="hidden" name="req" value="${opts.req}"><input type="hidden" name="hmac" value="${opts.hmac}"><input type="hidden" name="approval" value="approve"><button type="submit">Grant access</button></form>
<form method="post" action="${opts.action}"><input type="hidden" name="req" value="${opts.req}"><input type="hidden" name="hmac" value="${opts.hmac}"><input type="hidden" name="approval" value="rejected"><button class="secondary" type="submit">Cancel</button></form>
</div>`,
  );
}

export function errorPage(page: PageOptions, opts: { title: string; message: string; hint?: string }): string {
  return layout(
    page,
    opts.title,
    html`<h1>${opts.title}</h1><p class="error" role="alert">${opts.message}</p>${opts.hint ? html`<p class="muted">${opts.hint}</p>` : ''}`,
  );
}

/** RP-initiated logout without an ID token hint: the user confirms (a link alone cannot log anyone out). */
export function logoutConfirmPage(page: PageOptions, opts: { action: string; fields: Record<string, string>; clientName?: string }): string {
  return layout(
    page,
    'Log out',
    html`<h1>Log out?</h1>
<p>${opts.clientName ? html`${opts.clientName} asks to log you out of ${page.title}.` : html`Do you want to log out of ${page.title}?`}</p>
<form method="post" action="${opts.action}">${Object.entries(opts.fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<div class="actions"><button id="confirm-logout" type="submit">Log out</button></div>
</form>`,
  );
}
