/** Dex's `frontend` config: name, theme, logo, and a web directory with a theme stylesheet. */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { getPage } from '../helpers/http.js';

let b: TestBroker;
beforeAll(async () => {
  b = await startBroker({
    connectors: [
      { type: 'mockCallback', id: 'mock', name: 'Example' },
      { type: 'mockCallback', id: 'mock2', name: 'Second' },
    ],
    frontend: { issuer: 'Acme SSO', theme: 'dark', dir: 'test/fixtures/web' },
  });
});
afterAll(() => b.close());

const listUrl = () => `${b.issuer}/auth?client_id=example-app&redirect_uri=${encodeURIComponent('http://127.0.0.1:5555/callback')}&response_type=code&scope=openid`;

test('pages show the frontend name, the dark theme, the theme logo and stylesheet', async () => {
  const page = await getPage(listUrl());
  expect(page.status).toBe(200);
  expect(page.body).toContain('Acme SSO');
  expect(page.body).toContain('class="theme-dark"');
  expect(page.body).toContain(`<img src="${b.issuer}/theme/logo.png"`);
  expect(page.body).toContain(`<link rel="stylesheet" href="${b.issuer}/theme/styles.css">`);
  expect(page.body).toContain('Log in with Second');
});

test('the theme directory is served, and nothing outside it', async () => {
  const css = await fetch(`${b.issuer}/theme/styles.css`);
  expect(css.status).toBe(200);
  expect(await css.text()).toContain('outline');
  expect((await fetch(`${b.issuer}/theme/logo.png`)).headers.get('content-type')).toBe('image/png');
  expect((await fetch(`${b.issuer}/theme/..%2f..%2fpackage.json`)).status).toBe(404);
  expect((await fetch(`${b.issuer}/static/.keep`)).status).toBe(404);
});
