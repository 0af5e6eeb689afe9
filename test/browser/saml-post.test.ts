/**
 * A SAML login in a real browser (Debian's headless Chromium) over plain HTTP, with the IdP on
 * another site (`localhost` against the broker's `127.0.0.1`). The IdP's form posts cross-site to
 * the broker's /callback, which Chromium sends without the SameSite=Lax session cookie; the broker
 * answers with a page that posts the same fields again from its own origin, this time with the
 * cookie, and the login finishes at the client. The same IdP form opened in a browser that did
 * not start the login is refused.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { FakeIdp } from '../fakes/saml/idp.js';
import { makePki, type Pki } from '../fakes/saml/pki.js';
import { startChromium, type Chromium } from './chromium.js';

let pki: Pki;
let idp: FakeIdp;
let b: TestBroker;
let browser: Chromium;
let app: http.Server;
let client: { id: string; secret: string; redirectURI: string };

beforeAll(async () => {
  pki = makePki();
  app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('the client'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  client = { id: 'saml-app', secret: 'c2FtbC1hcHAtc2VjcmV0', redirectURI: `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback` };
  const options = { signer: pki.idp, user: { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'] } }, audience: '' };
  idp = new FakeIdp(options);
  await idp.start();
  b = await startBroker((issuer) => {
    options.audience = `${issuer}/callback`;
    return {
      connectors: [
        {
          type: 'saml',
          id: 'saml',
          name: 'SAML',
          // Another site than the broker's 127.0.0.1: the IdP's post back is cross-site.
          config: { ssoURL: idp.ssoURL.replace('127.0.0.1', 'localhost'), caData: pki.idp.cert, redirectURI: `${issuer}/callback`, usernameAttr: 'name', emailAttr: 'email' },
        },
      ],
      oauth2: { skipApprovalScreen: true },
      staticClients: [{ id: client.id, secret: client.secret, redirectURIs: [client.redirectURI], name: 'SAML App' }],
    };
  });
  browser = await startChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await b?.close();
  await idp?.close();
  pki?.remove();
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
});

const authorizeUrl = () =>
  `${b.issuer}/auth?${new URLSearchParams({ client_id: client.id, redirect_uri: client.redirectURI, response_type: 'code', scope: 'openid email', state: 'saml-browser', connector_id: 'saml' })}`;

test('the IdP posts back cross-site without the Lax cookie; the broker reposts from its origin and the login reaches the client', async () => {
  const page = await browser.context.newPage();
  try {
    await page.goto(authorizeUrl());
    expect(new URL(page.url()).hostname).toBe('localhost'); // at the IdP, on another site
    const seen: Promise<{ cookie: boolean; resubmitted: boolean }>[] = [];
    page.on('request', (r) => {
      // allHeaders(): the headers as sent, cookies included.
      if (r.method() === 'POST' && r.url() === `${b.issuer}/callback`) seen.push(r.allHeaders().then((h) => ({ cookie: /dexpress_session=/.test(h.cookie ?? ''), resubmitted: (r.postData() ?? '').includes('dexpress_resubmitted=1') })));
    });
    // The IdP's page posts its form (as its own script would).
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(client.redirectURI)), page.evaluate(() => document.forms[0]!.submit())]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('code')).toEqual(expect.any(String));
    expect(landed.searchParams.get('state')).toBe('saml-browser');
    expect(await Promise.all(seen)).toEqual([
      { cookie: false, resubmitted: false },
      { cookie: true, resubmitted: true },
    ]);
  } finally {
    await page.close();
    await browser.context.clearCookies();
  }
});

test('a posted field named "submit" (it would shadow form.submit()) does not stop the repost', async () => {
  const page = await browser.context.newPage();
  try {
    await page.goto(authorizeUrl());
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(client.redirectURI)),
      page.evaluate(() => {
        const form = document.forms[0]!;
        const extra = document.createElement('input');
        extra.type = 'hidden';
        extra.name = 'submit';
        extra.value = '1';
        form.appendChild(extra);
        HTMLFormElement.prototype.submit.call(form);
      }),
    ]);
    expect(new URL(page.url()).searchParams.get('code')).toEqual(expect.any(String));
  } finally {
    await page.close();
    await browser.context.clearCookies();
  }
});

test('the IdP form of a login opened in another browser (no session for it) is refused', async () => {
  const attacker = await browser.context.newPage();
  let formHtml: string;
  try {
    await attacker.goto(authorizeUrl());
    formHtml = await attacker.content();
  } finally {
    await attacker.close();
    await browser.context.clearCookies(); // the victim's browser: none of the attacker's cookies
  }
  const victim = await browser.context.newPage();
  try {
    // The attacker's page hands the victim the IdP's form, from a site of its own.
    await victim.goto(idp.ssoURL.replace('127.0.0.1', 'localhost').replace(/\/sso$/, '/nothing'));
    await victim.setContent(formHtml);
    await Promise.all([victim.waitForLoadState('load'), victim.evaluate(() => document.forms[0]!.submit())]);
    await victim.waitForFunction(() => document.title.includes('Login started elsewhere'));
    expect(victim.url()).toBe(`${b.issuer}/callback`);
  } finally {
    await victim.close();
    await browser.context.clearCookies();
  }
});
