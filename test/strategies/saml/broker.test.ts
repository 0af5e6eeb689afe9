/**
 * The browser-less round trip through the broker: openid-client as the relying party, the
 * strategy's auto-submitting form posted to the in-process IdP, the IdP's signed response posted
 * to the broker's /callback. The IdP posts to the connector's public redirectURI
 * (`https://sp.test/dex/callback`), which a reverse proxy would forward to the broker; the test
 * browser plays that proxy, since the broker's port is only known once it runs.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { login, startLogin, type Page } from '../../helpers/rp.js';
import { FakeIdp, parseAutoPostForm, type ParsedAuthnRequest } from '../../fakes/saml/idp.js';
import { assertionXml, responseXml, signedResponse, type AssertionSpec } from '../../fakes/saml/messages.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';

const PUBLIC_CALLBACK = 'https://sp.test/dex/callback';

const jane = {
  nameID: 'jane@example.com',
  attributes: { email: ['jane@example.com'], name: ['Jane Doe'], groups: ['admins', 'staff'] },
};

let pki: Pki;
let broker: TestBroker;
const idps: Record<string, FakeIdp> = {};
/** Every SAMLResponse the IdPs sent the browser, newest last. */
const posted: { connector: string; fields: Record<string, string> }[] = [];

function samlConnector(id: string, idp: FakeIdp, extra: Record<string, unknown> = {}): object {
  return {
    type: 'saml',
    id,
    name: `SAML ${id}`,
    config: {
      ssoURL: idp.ssoURL,
      caData: pki.idp.cert,
      redirectURI: PUBLIC_CALLBACK,
      usernameAttr: 'name',
      emailAttr: 'email',
      groupsAttr: 'groups',
      ...extra,
    },
  };
}

beforeAll(async () => {
  pki = makePki();
  idps.good = new FakeIdp({ signer: pki.idp, user: jane, audience: PUBLIC_CALLBACK });
  idps.forged = new FakeIdp({ signer: pki.attacker, user: jane, audience: PUBLIC_CALLBACK, mode: 'response' });
  idps.encrypted = new FakeIdp({ signer: pki.idp, user: jane, audience: PUBLIC_CALLBACK, encryptFor: pki.sp });
  idps.hostile = new FakeIdp({ signer: pki.idp, user: jane, audience: PUBLIC_CALLBACK });
  for (const idp of Object.values(idps)) await idp.start();
  broker = await startBroker({
    connectors: [
      samlConnector('saml', idps.good!),
      samlConnector('forged', idps.forged!),
      samlConnector('gated', idps.good!, { allowedGroups: ['auditors'] }),
      samlConnector('encrypted', idps.encrypted!, { decryptionKeyData: pki.sp.key, decryptionCertData: pki.sp.cert }),
      samlConnector('hostile', idps.hostile!),
    ],
  });
});

afterAll(async () => {
  await broker?.close();
  for (const idp of Object.values(idps)) await idp.close();
  pki?.remove();
});

/** The reverse proxy: the IdP's form to the public callback goes to the broker's /callback. */
async function proxyIdpForm(page: Page): Promise<{ url: string; method: 'POST'; form: Record<string, string> } | undefined> {
  if (!page.body.includes('name="SAMLResponse"')) return undefined;
  const { action, fields } = parseAutoPostForm(page.body);
  expect(action).toBe(PUBLIC_CALLBACK);
  const connector = Object.entries(idps).find(([, idp]) => page.url.startsWith(idp.url))?.[0] ?? 'unknown';
  posted.push({ connector, fields });
  return { url: `${broker.issuer}/callback`, method: 'POST', form: fields };
}

describe('saml through the broker', () => {
  test('a full login gives an ID token with the SAML identity and no refresh token', async () => {
    const { tokens, claims } = await login(broker.issuer, { connectorId: 'saml', onPage: proxyIdpForm });
    expect(claims).toMatchObject({
      iss: broker.issuer,
      sub: encodeSubject('jane@example.com', 'saml'),
      email: 'jane@example.com',
      email_verified: true,
      name: 'Jane Doe',
      groups: ['admins', 'staff'],
    });
    expect(claims.preferred_username).toBeUndefined();
    // offline_access was asked for; the capability row says saml never gets refresh tokens.
    expect(tokens.refresh_token).toBeUndefined();
  });

  test('the AuthnRequest the IdP received carries the callback and a fresh ID', async () => {
    const before = idps.good!.requests.length;
    await login(broker.issuer, { connectorId: 'saml', onPage: proxyIdpForm });
    const request = idps.good!.requests[before];
    expect(request).toMatchObject({ acsURL: PUBLIC_CALLBACK, destination: idps.good!.ssoURL });
    expect(request?.id).toMatch(/^_[0-9a-f]{40}$/);
  });

  test('an encrypted assertion logs in with the decryption key', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'encrypted', onPage: proxyIdpForm });
    expect(claims.sub).toBe(encodeSubject('jane@example.com', 'encrypted'));
  });

  test('a response signed with a key the connector does not trust ends on an error page, with no code', async () => {
    const result = await startLogin(broker.issuer, { connectorId: 'forged', onPage: proxyIdpForm });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(400);
    expect(result.page?.body).toContain('not signed by a certificate this connector trusts');
  });

  test('a user outside allowedGroups gets a 403 page', async () => {
    const result = await startLogin(broker.issuer, { connectorId: 'gated', onPage: proxyIdpForm });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(403);
    expect(result.page?.body).toContain('not a member of any group allowed to log in here');
  });

  test('posting the same SAMLResponse to /callback again is refused', async () => {
    await login(broker.issuer, { connectorId: 'saml', onPage: proxyIdpForm });
    const last = posted.filter((p) => p.connector === 'good').at(-1);
    expect(last).toBeDefined();
    const replay = await fetch(`${broker.issuer}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(last?.fields ?? {}).toString(),
      redirect: 'manual',
    });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
    expect(await replay.text()).toMatch(/already|expired/i);
  });

  test('the SP metadata is served under the connector', async () => {
    const res = await fetch(`${broker.issuer}/auth/encrypted/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/samlmetadata\+xml/);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${PUBLIC_CALLBACK}"`);
    expect(xml).toContain(`Location="${PUBLIC_CALLBACK}"`);
    expect(xml).toContain('<md:KeyDescriptor use="encryption">');
  });
});

describe('saml through the broker: refused responses end on an error page with no code', () => {
  const specFor = (request: ParsedAuthnRequest, over: Partial<AssertionSpec> = {}): AssertionSpec => ({
    requestId: request.id,
    recipient: request.acsURL,
    audience: PUBLIC_CALLBACK,
    ...jane,
    ...over,
  });
  const evil = { nameID: 'admin@example.com', attributes: { email: ['admin@example.com'], name: ['Admin'] } };

  const cases: [string, (r: ParsedAuthnRequest) => string, number, RegExp][] = [
    ['unsigned', (r) => responseXml(specFor(r), assertionXml(specFor(r))), 400, /is not signed/],
    ['altered after signing', (r) => signedResponse(specFor(r), pki.idp).replace('>jane@example.com</saml:NameID>', '>admin@example.com</saml:NameID>'), 400, /changed after it was signed/],
    ['a second, unsigned assertion', (r) => signedResponse(specFor(r), pki.idp).replace('</samlp:Response>', `${assertionXml(specFor(r, evil))}</samlp:Response>`), 400, /more than one assertion/],
    ['expired', (r) => signedResponse(specFor(r, { notBefore: new Date(Date.now() - 900_000), notOnOrAfter: new Date(Date.now() - 600_000) }), pki.idp), 400, /expired at/],
    ['for another audience', (r) => signedResponse(specFor(r, { audience: 'https://other-sp.test' }), pki.idp), 400, /meant for https:\/\/other-sp.test/],
    ['for another request', (r) => signedResponse(specFor(r, { requestId: '_another' }), pki.idp), 400, /answers another login request/],
    ['a failure status', (r) => signedResponse(specFor(r, { status: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }), pki.idp, 'response'), 403, /status Responder/],
  ];

  test.each(cases)('%s', async (_name, respond, status, message) => {
    idps.hostile!.respond = respond;
    const result = await startLogin(broker.issuer, { connectorId: 'hostile', onPage: proxyIdpForm });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(status);
    expect(result.page?.body).toMatch(message);
    expect(result.page?.headers.get('location')).toBeNull();
  });

  test('the error page escapes what the IdP sent', async () => {
    idps.hostile!.respond = (r) => signedResponse(specFor(r, { audience: '<script>alert(1)</script>' }), pki.idp);
    const result = await startLogin(broker.issuer, { connectorId: 'hostile', onPage: proxyIdpForm });
    expect(result.page?.status).toBe(400);
    expect(result.page?.body).not.toContain('<script>alert(1)</script>');
    expect(result.page?.body).toContain('&lt;script&gt;');
  });
});
