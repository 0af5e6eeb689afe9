/**
 * Login CSRF: a login is finished only by the browser that started it. An attacker who starts a
 * login, approves it upstream as himself and hands the callback URL (or the IdP's auto-post form,
 * or the password form) to a victim must not plant his identity in the victim's login session.
 * Over plain HTTP the session cookie is SameSite=Lax, so an IdP's cross-site POST comes without it:
 * the broker answers with a page that posts the same fields again from its own origin, once.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { cookieBrowser as browser, type CookieBrowser } from '../helpers/http.js';
import { firstForm } from '../helpers/rp.js';
import { authUrl, pkcePair } from './support.js';

const PASSWORD = 'trout-Secret-42';
let b: TestBroker;

beforeAll(async () => {
  const { hashSync } = await import('bcryptjs');
  b = await startBroker({
    connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
    enablePasswordDB: true,
    staticPasswords: [{ email: 'kilgore@kilgore.trout', hash: hashSync(PASSWORD, 10), username: 'kilgore', userID: '41331323-6f44-45e6-b3b9-2c4b60c02be5' }],
  });
});
afterAll(() => b.close());

/** Starts a login with mockCallback in `who`: the connector's redirect to the broker's callback. */
async function startMockLogin(who: CookieBrowser): Promise<string> {
  const start = await who.send(authUrl(b.issuer, { connector_id: 'mock', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
  expect(start.status).toBe(303);
  const atConnector = await who.send(new URL(start.location!, b.issuer).toString());
  expect(atConnector.location).toMatch(/\/callback\?/);
  return new URL(atConnector.location!, b.issuer).toString();
}

describe('a callback (GET, OAuth upstreams)', () => {
  test('replayed in another browser is refused, and does not spoil the login for the browser that started it', async () => {
    const attacker = browser();
    const victim = browser();
    const callback = await startMockLogin(attacker);
    const planted = await victim.send(callback);
    expect(planted.status).toBe(403);
    expect(planted.body).toContain('started in another browser');
    expect(victim.jar.size).toBe(0); // no session was created for the victim
    const own = await attacker.send(callback);
    expect(own.status).toBe(303);
    expect(own.location).toMatch(new RegExp(`^${TEST_CLIENT.redirectURI}\\?code=`));
  });

  test('from a browser with a session of its own (a victim already logged in) is refused too', async () => {
    const attacker = browser();
    const victim = browser();
    await victim.send(await startMockLogin(victim)); // the victim logs in: it now has a session
    expect(victim.jar.size).toBe(1);
    const planted = await victim.send(await startMockLogin(attacker));
    expect(planted.status).toBe(403);
  });
});

describe('a callback POST (SAML IdPs)', () => {
  test('without the session cookie: a same-origin page posts the fields once more; without it again, refused', async () => {
    const attacker = browser();
    const callback = await startMockLogin(attacker);
    const state = new URL(callback).searchParams.get('state')!;
    const fields = { SAMLResponse: Buffer.from('<samlp:Response/>').toString('base64'), RelayState: state };
    const crossSite = await browser().post(`${b.issuer}/callback`, fields);
    expect(crossSite.status).toBe(200);
    const again = firstForm(crossSite.body, b.issuer)!;
    expect(again.action).toBe(`${b.issuer}/callback`);
    expect(again.fields).toEqual({ ...fields, dexpress_resubmitted: '1' });
    const stillNoCookie = await browser().post(again.action, again.fields);
    expect(stillNoCookie.status).toBe(403);
    expect(stillNoCookie.body).toContain('started in another browser');
  });

  test('resubmitted with the cookie of the browser that started the login, it goes on to the connector', async () => {
    const own = browser();
    const callback = await startMockLogin(own);
    const state = new URL(callback).searchParams.get('state')!;
    const res = await own.post(`${b.issuer}/callback`, { RelayState: state, dexpress_resubmitted: '1' });
    expect(res.status).not.toBe(403);
    expect(res.body).not.toContain('started in another browser');
  });
});

describe('the password form', () => {
  test('posted by another browser (another site auto-submitting the attacker\'s form) is refused', async () => {
    const attacker = browser();
    const start = await attacker.send(authUrl(b.issuer, { connector_id: 'local', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    let formPage = start;
    for (let i = 0; i < 3 && formPage.location; i++) formPage = await attacker.send(new URL(formPage.location, b.issuer).toString());
    expect(formPage.body).toContain('name="password"');
    const form = firstForm(formPage.body, b.issuer)!;
    const filled = { ...form.fields, login: 'kilgore@kilgore.trout', password: PASSWORD };
    const planted = await browser().post(form.action, filled);
    expect(planted.status).toBe(403);
    expect(planted.body).toContain('started in another browser');
    const own = await attacker.post(form.action, filled);
    expect(own.status).toBe(303);
  });
});

describe('the approval page', () => {
  test('copied to another browser (history, logs, a shared screen) can neither be shown nor approved there', async () => {
    const own = browser();
    const start = await own.send(authUrl(b.issuer, { connector_id: 'mock', prompt: 'consent', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    let step = start;
    for (let i = 0; i < 4 && step.location && !step.location.includes('/approval?'); i++) step = await own.send(new URL(step.location, b.issuer).toString());
    expect(step.location).toContain('/approval?');
    const approvalUrl = new URL(step.location!, b.issuer).toString();
    const form = firstForm((await own.send(approvalUrl)).body, b.issuer)!;
    expect(form.fields.req).toEqual(expect.any(String));
    const elsewhere = browser();
    expect((await elsewhere.send(approvalUrl)).status).toBe(403);
    const stolen = await elsewhere.post(form.action, { ...form.fields, approval: 'approve' });
    expect(stolen.status).toBe(403);
    expect(stolen.location).toBeNull();
    const approved = await own.post(form.action, { ...form.fields, approval: 'approve' });
    expect(approved.status).toBe(303);
    expect(approved.location).toMatch(new RegExp(`^${TEST_CLIENT.redirectURI}\\?code=`));
  });
});

describe('several logins started at once in one browser (tabs), storage with some latency', () => {
  let slow: TestBroker;
  beforeAll(async () => {
    const { MemoryStorage } = await import('../../lib/storage/memory.js');
    const inner = new MemoryStorage();
    // Every storage call takes 5 ms, as a database round trip would: concurrent requests interleave.
    const storage = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const out = (value as (...a: unknown[]) => unknown).apply(target, args);
          return out instanceof Promise ? new Promise((resolve) => setTimeout(resolve, 5)).then(() => out) : out;
        };
      },
    });
    slow = await startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] }, { storage });
  });
  afterAll(() => slow.close());

  test('each tab finishes its own login: starting one does not undo the binding of another', async () => {
    const tabs = browser();
    // The browser already has a session (an earlier login), as a returning user's does.
    const first = await tabs.send(authUrl(slow.issuer, { connector_id: 'mock', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    const warm = await tabs.send(new URL(first.location!, slow.issuer).toString());
    expect((await tabs.send(new URL(warm.location!, slow.issuer).toString())).status).toBe(303);
    for (let round = 0; round < 5; round++) {
      const start = () => tabs.send(authUrl(slow.issuer, { connector_id: 'mock', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
      const [a, b2] = await Promise.all([start(), start()]);
      const [ca, cb] = await Promise.all([tabs.send(new URL(a.location!, slow.issuer).toString()), tabs.send(new URL(b2.location!, slow.issuer).toString())]);
      const answers = await Promise.all([tabs.send(new URL(ca.location!, slow.issuer).toString()), tabs.send(new URL(cb.location!, slow.issuer).toString())]);
      expect(answers.map((r) => r.status)).toEqual([303, 303]);
    }
  });
});

describe('a handed-over Passport strategy that posts back to /callback/<id> (passport-saml)', () => {
  test('over plain HTTP the cookie-less cross-site POST is posted again from this origin, and then finishes with the cookie', async () => {
    const { Strategy } = await import('passport-strategy');
    const { makePki } = await import('../fakes/saml/pki.js');
    /** Succeeds on the IdP's POST back, redirects to the IdP otherwise. */
    class PostBack extends Strategy {
      override authenticate(req: { method: string }): void {
        if (req.method === 'POST') this.success({ nameID: 'jane@example.com', nameIDFormat: 'x', issuer: 'idp', attributes: { email: 'jane@example.com', name: 'Jane' }, email: 'jane@example.com', name: 'Jane' });
        else this.redirect('http://127.0.0.1:9/idp');
      }
    }
    const pki = makePki();
    const handed = await startBroker(
      (issuer) => ({ connectors: [{ type: 'saml', id: 'okta', name: 'Okta', config: { ssoURL: 'http://127.0.0.1:9/idp', caData: pki.idp.cert, redirectURI: `${issuer}/callback`, usernameAttr: 'name', emailAttr: 'email' } }] }),
      { passportStrategies: { okta: new PostBack() } },
    );
    try {
      const own = browser();
      const start = await own.send(authUrl(handed.issuer, { connector_id: 'okta', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
      expect((await own.send(new URL(start.location!, handed.issuer).toString())).location).toBe('http://127.0.0.1:9/idp');
      const crossSite = await browser().post(`${handed.issuer}/callback/okta`, { SAMLResponse: 'x' });
      expect(crossSite.status).toBe(200);
      const again = firstForm(crossSite.body, handed.issuer)!;
      expect(again.fields).toEqual({ SAMLResponse: 'x', dexpress_resubmitted: '1' });
      expect((await browser().post(again.action, again.fields)).status).toBe(400); // still no cookie: no login to finish
      const finished = await own.post(again.action, again.fields);
      expect(finished.status).toBe(303);
      expect(finished.location).toMatch(new RegExp(`^${TEST_CLIENT.redirectURI}\\?code=`));
    } finally {
      await handed.close();
      pki.remove();
    }
  });
});
