/**
 * The broker's pages in a real browser (Debian's headless Chromium): the login a person goes
 * through (connector list, password form with a wrong then a right password, approval, back to
 * the client with a code), the device code page, and the error pages. Every page is screenshot at
 * desktop and phone width into test-output/screenshots/ and checked for layout breakage.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { Page } from 'playwright-core';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { postForm } from '../helpers/http.js';
import { contrastOf, screenshotBoth, startChromium, tabOrder, type Chromium, type LayoutReport } from './chromium.js';

// bcrypt of "password", as in Dex's examples.
const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
const clock = frozenClock(Date.now());
let b: TestBroker;
let browser: Chromium;
let page: Page;
/** The client app's redirect URI: a tiny server on a free port that just says it got the answer. */
let app: http.Server;
let client: { id: string; secret: string; redirectURI: string };

beforeAll(async () => {
  app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('the client'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  client = { id: 'browser-app', secret: 'YnJvd3Nlci1hcHAtc2VjcmV0', redirectURI: `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback` };
  b = await startBroker(
    {
      connectors: [
        { type: 'mockCallback', id: 'mock', name: 'Example' },
        { type: 'mockPassword', id: 'mockpw', name: 'Mock password', config: { username: 'kilgore', password: 'trout' } },
      ],
      enablePasswordDB: true,
      staticPasswords: [{ email: 'admin@example.com', hash: HASH, username: 'admin', userID: '08a8684b-db88-4b73-90a9-3cd1661f5466' }],
      oauth2: { skipApprovalScreen: false },
      // `auto` follows the browser's colour scheme, so the contrast test sees both palettes.
      frontend: { theme: 'auto' },
      staticClients: [
        { id: client.id, secret: client.secret, redirectURIs: [client.redirectURI], name: 'Example App' },
        { id: 'kubectl', public: true, name: 'Kubernetes' },
      ],
    },
    { now: clock },
  );
  browser = await startChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await b?.close();
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
});
afterEach(async () => {
  await page?.close();
  await browser.context.clearCookies();
});

async function newPage(): Promise<Page> {
  page = await browser.context.newPage();
  return page;
}

function authorizeUrl(params: Record<string, string> = {}): string {
  const q = new URLSearchParams({ client_id: client.id, redirect_uri: client.redirectURI, response_type: 'code', scope: 'openid email profile groups', state: 'browser-test', ...params });
  return `${b.issuer}/auth?${q}`;
}

/** Nothing wider than the viewport, inputs labelled, the form and its button visible and inside. */
function expectSoundLayout(reports: Record<string, LayoutReport>, withForm: boolean): void {
  for (const [width, r] of Object.entries(reports)) {
    expect({ width, scrollWidth: r.scrollWidth }).toEqual({ width, scrollWidth: r.innerWidth });
    expect({ width, overflowing: r.overflowing }).toEqual({ width, overflowing: [] });
    expect({ width, unlabelled: r.unlabelled }).toEqual({ width, unlabelled: [] });
    if (withForm) expect({ width, form: r.form }).toEqual({ width, form: { formVisible: true, submitVisible: true, submitInside: true } });
  }
}

describe('a person logs in', () => {
  test('connector list → password form (wrong, then right) → approval → the client gets a code', async () => {
    const p = await newPage();
    await p.goto(authorizeUrl());
    expectSoundLayout(await screenshotBoth(p, 'connector-list'), false);
    // Each connector is a link named "Log in with <name>"; its mark (a letter on the platform's colour) is decoration.
    expect(await p.locator('ul.connectors a > span:not(.mark)').allTextContents()).toEqual(['Log in with Example', 'Log in with Mock password', 'Log in with Email']);
    for (const name of ['Log in with Example', 'Log in with Mock password', 'Log in with Email']) expect(await p.getByRole('link', { name, exact: true }).count()).toBe(1);
    expect(await p.locator('.mark[aria-hidden="true"]').count()).toBe(3);
    await p.getByRole('link', { name: 'Log in with Email' }).click();

    await p.waitForSelector('#password');
    expectSoundLayout(await screenshotBoth(p, 'password-form'), true);
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('login');
    expect(await tabOrder(p, '#login', 2)).toEqual(['password', 'submit-login']);

    await p.getByLabel('Email').fill('admin@example.com');
    await p.getByLabel('Password').fill('not the password');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.waitForSelector('#login-error');
    expect(await p.getByRole('alert').textContent()).toContain('Invalid email address or password');
    expect(await p.getByLabel('Email').inputValue()).toBe('admin@example.com');
    expectSoundLayout(await screenshotBoth(p, 'password-wrong'), true);

    await p.getByLabel('Password').fill('password');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.waitForSelector('text=Grant access to Example App');
    expectSoundLayout(await screenshotBoth(p, 'approval'), true);

    await Promise.all([p.waitForURL(`${client.redirectURI}?**`), p.getByRole('button', { name: 'Grant access' }).click()]);
    const landed = new URL(p.url());
    expect(landed.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(landed.searchParams.get('state')).toBe('browser-test');
  });
});

describe('a person connects a device', () => {
  test('types the user code, logs in, approves and is told to return to the device', async () => {
    const device = await postForm(`${b.issuer}/device/code`, { client_id: 'kubectl', scope: 'openid email' });
    const userCode = String(device.body.user_code);
    const p = await newPage();
    await p.goto(String(device.body.verification_uri));
    expectSoundLayout(await screenshotBoth(p, 'device-code'), true);
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('user_code');
    expect(await tabOrder(p, '#user_code', 1)).toEqual(['submit-code']);

    await p.getByLabel('Code').fill('BBBB-BBBB');
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.waitForSelector('#user-code-error');
    expectSoundLayout(await screenshotBoth(p, 'device-code-wrong'), true);

    await p.getByLabel('Code').fill(userCode.toLowerCase());
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByRole('link', { name: 'Log in with Example' }).click();
    await p.getByRole('button', { name: 'Grant access' }).click();
    await p.waitForSelector('text=Login successful for Kubernetes');
    expectSoundLayout(await screenshotBoth(p, 'device-done'), false);
    const poll = await postForm(`${b.issuer}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: String(device.body.device_code), client_id: 'kubectl' });
    expect(poll.status).toBe(200);
  });
});

describe('contrast (WCAG AA, 4.5:1) in the light and the dark colour scheme', () => {
  test.each(['light', 'dark'] as const)('%s: text, buttons, links and errors are readable', async (scheme) => {
    const p = await newPage();
    await p.emulateMedia({ colorScheme: scheme });
    await p.goto(authorizeUrl({ connector_id: 'local' }));
    await p.getByLabel('Email').fill('admin@example.com');
    await p.getByLabel('Password').fill('not the password');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.waitForSelector('#login-error');
    await p.screenshot({ path: `test-output/screenshots/password-wrong-${scheme}-scheme.png` });
    for (const selector of ['h1', 'label[for="password"]', '#submit-login', '#login-error', 'a']) {
      expect({ selector, ok: (await contrastOf(p, selector)) >= 4.5 }).toEqual({ selector, ok: true });
    }
  });
});

describe('error pages say what went wrong, on any width', () => {
  const cases: [string, () => string, string][] = [
    ['error-unknown-client', () => authorizeUrl({ client_id: 'no-such-client' }), 'Unknown client'],
    [
      'error-redirect-uri',
      () => authorizeUrl({ redirect_uri: 'https://attacker.example/a/very/long/path/that/does/not/break/anywhere/on/a/phone/because/it/has/no/spaces/at/all?and=a&long=query' }),
      'Unregistered redirect URI',
    ],
    ['error-expired-login', () => `${b.issuer}/auth/local/login?state=an-expired-login`, 'Login expired'],
  ];
  test.each(cases)('%s', async (name, url, heading) => {
    const p = await newPage();
    const res = await p.goto(url());
    expect(res?.status()).toBe(400);
    const reports = await screenshotBoth(p, name);
    expect(reports.phone.h1).toBe(heading);
    expectSoundLayout(reports, false);
    expect(await p.getByRole('alert').isVisible()).toBe(true);
  });
});
