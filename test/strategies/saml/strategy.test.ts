/**
 * The service-provider side: the AuthnRequest form, config validation with Dex's keys and
 * messages, the module's shape (no refresh), and the strategy used alone as a Passport strategy
 * with express-session.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import request from 'supertest';
import { capabilitiesOf } from '../../../lib/capabilities.js';
import { ConfigError } from '../../../lib/errors.js';
import { configSchema, saml, SamlStrategy, type SamlConfig } from '../../../strategies/saml/index.js';
import { resolveSettings } from '../../../strategies/saml/config.js';
import { parseAuthnRequest, parseAutoPostForm } from '../../fakes/saml/idp.js';
import { responseXml, assertionXml, signedResponse, toBase64 } from '../../fakes/saml/messages.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';
import { brokerOptions, CALLBACK, memoryLoginState, postResponse, runStrategy } from './harness.js';

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.remove());

const SSO = 'https://idp.test/sso';

function config(over: Partial<SamlConfig> = {}): SamlConfig {
  return { ssoURL: SSO, caData: pki.idp.cert, redirectURI: CALLBACK, usernameAttr: 'name', emailAttr: 'email', ...over };
}

const user = { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'] } };

async function startLogin(strategy: SamlStrategy) {
  const loginState = memoryLoginState();
  const outcome = await runStrategy(strategy, { method: 'GET' }, brokerOptions(loginState, 'login'));
  if (outcome.type !== 'handled') throw new Error(`expected the POST form, got ${outcome.type}`);
  const form = parseAutoPostForm(outcome.html);
  return { outcome, form, loginState, request: parseAuthnRequest(form.fields.SAMLRequest ?? '') };
}

describe('saml: the AuthnRequest form (HTTP-POST binding)', () => {
  test('posts SAMLRequest and RelayState (the broker state) to ssoURL', async () => {
    const { form, outcome } = await startLogin(new SamlStrategy(config()));
    expect(form.action).toBe(SSO);
    expect(form.fields.RelayState).toBe('auth-request-1');
    expect(outcome.status).toBe(200);
  });

  test('the request names the callback, the ssoURL and a persistent NameID by default', async () => {
    const { request } = await startLogin(new SamlStrategy(config()));
    expect(request).toEqual({
      id: expect.stringMatching(/^_[0-9a-f]{40}$/),
      acsURL: CALLBACK,
      destination: SSO,
      issuer: undefined,
      nameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    });
  });

  test('the request ID is kept in the login state for the response to answer', async () => {
    const { request, loginState } = await startLogin(new SamlStrategy(config()));
    expect(loginState.value).toEqual({ requestId: request.id, relayState: 'auth-request-1' });
  });

  test('each login gets a fresh request ID', async () => {
    const strategy = new SamlStrategy(config());
    const [a, b] = await Promise.all([startLogin(strategy), startLogin(strategy)]);
    expect(a.request.id).not.toBe(b.request.id);
  });

  test('entityIssuer is sent as the Issuer, and a short nameIDPolicyFormat is expanded', async () => {
    const { request } = await startLogin(new SamlStrategy(config({ entityIssuer: 'urn:dexpress:sp', nameIDPolicyFormat: 'emailAddress' })));
    expect(request.issuer).toBe('urn:dexpress:sp');
    expect(request.nameIDFormat).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
  });

  test('the page allows only its own script and posting only to the IdP', async () => {
    const { outcome } = await startLogin(new SamlStrategy(config()));
    expect(outcome.headers['Content-Security-Policy']).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; form-action https:\/\/idp\.test$/);
    expect(outcome.headers['Cache-Control']).toBe('no-store');
  });

  test('the response to that request is accepted', async () => {
    const strategy = new SamlStrategy(config());
    const { request, loginState } = await startLogin(strategy);
    const xml = signedResponse({ requestId: request.id, recipient: CALLBACK, audience: CALLBACK, ...user }, pki.idp);
    const outcome = await postResponse(strategy, xml, loginState);
    expect(outcome).toEqual({ type: 'success', user: expect.objectContaining({ userId: 'jane@example.com', username: 'Jane Doe' }) });
  });

  test('a callback without SAMLResponse is refused and uses up the pending request', async () => {
    const strategy = new SamlStrategy(config());
    const { loginState } = await startLogin(strategy);
    const outcome = await runStrategy(strategy, { method: 'GET' }, brokerOptions(loginState, 'callback'));
    expect(outcome).toEqual({ type: 'fail', message: 'The identity provider posted no SAMLResponse.', status: 400 });
    expect(loginState.value).toBeNull();
  });

  test('a response posted before any login started is refused', async () => {
    const xml = signedResponse({ requestId: '_unsolicited', recipient: CALLBACK, audience: CALLBACK, ...user }, pki.idp);
    const outcome = await postResponse(new SamlStrategy(config()), xml, memoryLoginState());
    expect(outcome).toEqual({ type: 'fail', message: expect.stringMatching(/no login in progress/), status: 400 });
  });
});

describe('saml: config', () => {
  const issues = (input: unknown): string[] => {
    const r = configSchema.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test('a Dex config is accepted', () => {
    expect(issues({ ...config(), entityIssuer: 'x', ssoIssuer: 'y', groupsAttr: 'g', groupsDelim: ',', allowedGroups: ['a'], filterGroups: true, nameIDPolicyFormat: 'persistent' })).toEqual([]);
  });

  test('the required keys are named when missing', () => {
    expect(issues({ caData: 'x' }).map((i) => i.split(':')[0])).toEqual(['ssoURL', 'redirectURI', 'usernameAttr', 'emailAttr']);
  });

  test('neither ca nor caData is an error, as in Dex', () => {
    const { caData: _ignored, ...rest } = config();
    expect(issues(rest)).toEqual(["ca: must provide either 'ca' or 'caData'"]);
  });

  test('both ca and caData is an error', () => {
    expect(issues({ ...config(), ca: '/etc/idp.pem' })).toEqual(["ca: must provide either 'ca' or 'caData'"]);
  });

  test('insecureSkipSignatureValidation needs no ca', () => {
    const { caData: _ignored, ...rest } = config();
    expect(issues({ ...rest, insecureSkipSignatureValidation: true })).toEqual([]);
  });

  test('an unknown key is an error', () => {
    expect(issues({ ...config(), ssoUrl: SSO })).toEqual([expect.stringMatching(/Unrecognized key.*ssoUrl/)]);
  });

  test('an unknown nameIDPolicyFormat is an error', () => {
    expect(issues(config({ nameIDPolicyFormat: 'email' }))).toEqual(['nameIDPolicyFormat: invalid nameIDPolicyFormat: "email"']);
  });

  test('allowedGroups without groupsAttr is an error at start-up', () => {
    expect(issues(config({ allowedGroups: ['admins'] }))).toEqual(['groupsAttr: is required when allowedGroups is set']);
  });

  test('caData as Dex reads it (base64 of the PEM) and as PEM text give the same certificate', () => {
    const fromBase64 = resolveSettings(config({ caData: Buffer.from(pki.idp.cert).toString('base64') }));
    const fromPem = resolveSettings(config());
    expect(fromBase64.trustedCerts).toEqual(fromPem.trustedCerts);
    expect(fromPem.trustedCerts).toHaveLength(1);
  });

  test('ca reads a file holding several certificates', () => {
    const file = path.join(pki.dir, 'bundle.pem');
    writeFileSync(file, pki.idp.cert + pki.ca.cert);
    const { caData: _ignored, ...rest } = config();
    expect(resolveSettings({ ...rest, ca: file }).trustedCerts).toHaveLength(2);
  });

  test('an unreadable ca file fails at start-up naming the key', () => {
    const { caData: _ignored, ...rest } = config();
    expect(() => resolveSettings({ ...rest, ca: path.join(pki.dir, 'missing.pem') })).toThrow(ConfigError);
    expect(() => resolveSettings({ ...rest, ca: path.join(pki.dir, 'missing.pem') })).toThrow(/^ca: cannot read/);
  });

  test('caData holding a private key instead of a certificate fails at start-up', () => {
    expect(() => resolveSettings(config({ caData: pki.idp.key }))).toThrow(/caData: holds a PRIVATE KEY, not a CERTIFICATE/);
  });

  test('a PEM certificate followed by garbage fails at start-up', () => {
    expect(() => resolveSettings(config({ caData: `${pki.idp.cert}garbage` }))).toThrow(/caData: parse cert: trailing data/);
  });
});

describe('saml: the module', () => {
  test('has no refresh, as its capability row says', () => {
    const connector = saml.create(config(), {
      id: 'saml',
      name: 'SAML',
      issuer: 'http://127.0.0.1:5556/dex',
      callbackURL: CALLBACK,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    expect('refresh' in connector).toBe(false);
    expect(capabilitiesOf('saml').refresh).toBe(false);
    expect(Object.keys(connector.routes)).toEqual(['metadata']);
  });

  test('insecureSkipSignatureValidation accepts an unsigned response, and says so at start-up', async () => {
    const warnings: string[] = [];
    const { caData: _ignored, ...rest } = config();
    const connector = saml.create(
      { ...rest, insecureSkipSignatureValidation: true },
      {
        id: 'saml',
        name: 'SAML',
        issuer: 'http://127.0.0.1:5556/dex',
        callbackURL: CALLBACK,
        logger: { debug: () => undefined, info: () => undefined, warn: (_o, msg) => warnings.push(msg ?? ''), error: () => undefined },
      },
    );
    const spec = { requestId: '_r', recipient: CALLBACK, audience: CALLBACK, ...user };
    const outcome = await postResponse(connector.strategy as SamlStrategy, responseXml(spec, assertionXml(spec)), memoryLoginState({ requestId: '_r', relayState: 'x' }));
    expect(outcome.type).toBe('success');
    expect(warnings).toEqual([expect.stringMatching(/insecureSkipSignatureValidation is on/)]);
  });
});

describe('saml: used alone as a Passport strategy', () => {
  function app(): express.Express {
    const a = express();
    a.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    a.use(express.urlencoded({ extended: false, limit: '512kb' }));
    a.use(passport.initialize());
    passport.use('saml-alone', new SamlStrategy(config(), { name: 'saml-alone' }));
    const auth = passport.authenticate('saml-alone', { session: false, failWithError: false });
    a.get('/login', auth);
    a.post('/acs', auth, (req, res) => {
      res.json(req.user);
    });
    return a;
  }

  async function startStandalone() {
    const agent = request.agent(app());
    const page = await agent.get('/login').expect(200);
    const form = parseAutoPostForm(page.text);
    return { agent, form, request: parseAuthnRequest(form.fields.SAMLRequest ?? '') };
  }

  test('keeps the pending request in the session and logs in with the matching RelayState', async () => {
    const { agent, form, request: req } = await startStandalone();
    const xml = signedResponse({ requestId: req.id, recipient: CALLBACK, audience: CALLBACK, ...user }, pki.idp);
    const res = await agent.post('/acs').type('form').send({ SAMLResponse: toBase64(xml), RelayState: form.fields.RelayState ?? '' }).expect(200);
    expect(res.body).toMatchObject({ userId: 'jane@example.com', email: 'jane@example.com' });
  });

  test('refuses a response carrying another RelayState', async () => {
    const { agent, request: req } = await startStandalone();
    const xml = signedResponse({ requestId: req.id, recipient: CALLBACK, audience: CALLBACK, ...user }, pki.idp);
    await agent.post('/acs').type('form').send({ SAMLResponse: toBase64(xml), RelayState: 'forged' }).expect(400);
  });

  test('a POST to the ACS route without a body parser is an error naming the fix, not a new login (no loop with the IdP)', async () => {
    const a = express();
    a.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    passport.use('saml-unparsed', new SamlStrategy(config(), { name: 'saml-unparsed' }));
    a.post('/acs', passport.authenticate('saml-unparsed', { session: false }), (_req, res) => res.send('in'));
    a.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(500).send(err.message));
    const res = await request(a).post('/acs').type('form').send({ SAMLResponse: 'x', RelayState: 'y' }).expect(500);
    expect(res.text).toContain('express.urlencoded');
  });
});
