/**
 * Interoperability: responses that are unusual but signed by the configured IdP, shaped the way
 * ADFS, Okta, Entra ID, Keycloak, Shibboleth or Google Workspace send them. Each is signed for
 * real (xml-crypto acting as the IdP) after its assertion was reshaped, so only the shape differs
 * from an ordinary login.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { SamlConfig } from '../../../strategies/saml/index.js';
import { SamlStrategy } from '../../../strategies/saml/index.js';
import type { EncryptionAlgorithm } from 'xml-encryption';
import { AES256_GCM, assertionXml, encryptAssertion, idOf, responseXml, signElement, type AssertionSpec, type SignMode } from '../../fakes/saml/messages.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';
import { CALLBACK, memoryLoginState, postResponse, type Outcome } from './harness.js';

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.remove());

const REQUEST_ID = '_pending-interop';
const NOW = Date.parse('2026-03-01T12:00:00Z');

const jane = { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'], groups: ['admins', 'staff'] } };

function spec(over: Partial<AssertionSpec> = {}): AssertionSpec {
  return {
    requestId: REQUEST_ID,
    recipient: CALLBACK,
    audience: CALLBACK,
    notBefore: new Date(NOW - 60_000),
    notOnOrAfter: new Date(NOW + 300_000),
    ...jane,
    ...over,
  };
}

/** A response whose assertion text went through `reshape` before being signed (as `mode` says). */
function idpResponse(reshape: (assertion: string) => string, mode: SignMode = 'assertion', over: Partial<AssertionSpec> = {}, reshapeResponse: (r: string) => string = (r) => r): string {
  const s = spec(over);
  let assertion = reshape(assertionXml(s));
  if (mode === 'assertion' || mode === 'both') assertion = signElement(assertion, idOf(assertion, 'Assertion'), pki.idp);
  const response = reshapeResponse(responseXml(s, assertion));
  return mode === 'response' || mode === 'both' ? signElement(response, idOf(response, 'Response'), pki.idp) : response;
}

function strategyFor(config: Partial<SamlConfig>, now: number): SamlStrategy {
  return new SamlStrategy(
    { ssoURL: 'https://idp.test/sso', caData: pki.idp.cert, redirectURI: CALLBACK, usernameAttr: 'name', emailAttr: 'email', groupsAttr: 'groups', ...config },
    { now: () => now },
  );
}

function submit(xml: string, config: Partial<SamlConfig> = {}, options: { now?: number; groups?: boolean } = {}): Promise<Outcome> {
  const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
  return postResponse(strategyFor(config, options.now ?? NOW), xml, loginState, options.groups ?? true);
}

const asSent = (assertion: string): string => assertion;
const withStatements = (statements: string) => (a: string): string =>
  a.replace(/<saml:AttributeStatement>[\s\S]*<\/saml:AttributeStatement>/, statements);
const statement = (...attrs: string[]): string => `<saml:AttributeStatement>${attrs.join('')}</saml:AttributeStatement>`;
const attribute = (name: string, values: string[]): string =>
  `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue>${v}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
const XSI = 'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
const typed = (name: string, values: string[]): string =>
  `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${v}</saml:AttributeValue>`).join('')}</saml:Attribute>`;

const accepted = (identity: object): Outcome => ({ type: 'success', user: expect.objectContaining(identity) });
const refused = (message: RegExp, status = 400): Outcome => ({ type: 'fail', message: expect.stringMatching(message) as unknown as string, status });

describe('saml interop: what is signed', () => {
  test.each<SignMode>(['assertion', 'response', 'both'])('xsi:type values (Okta, Keycloak) with the %s signed', async (mode) => {
    const xml = idpResponse(
      (a) => withStatements(statement(typed('email', ['jane@example.com']), typed('name', ['Jane Doe']), typed('groups', ['a', 'b'])))(a).replace('<saml:Assertion ', `<saml:Assertion ${XSI} `),
      mode,
    );
    expect(await submit(xml)).toEqual(accepted({ email: 'jane@example.com', username: 'Jane Doe', groups: ['a', 'b'] }));
  });

  test('a signed assertion whose namespaces (saml, xs, xsi) are declared only on the unsigned Response', async () => {
    const s = spec();
    const assertion = withStatements(statement(typed('email', ['jane@example.com']), attribute('name', ['Jane Doe']), attribute('groups', ['a'])))(assertionXml(s))
      .replace(' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"', '');
    const response = responseXml(s, assertion).replace('<samlp:Response ', `<samlp:Response ${XSI} `);
    expect(await submit(signElement(response, idOf(response, 'Assertion'), pki.idp))).toEqual(accepted({ email: 'jane@example.com' }));
  });

  test('an indented response and assertion (line breaks between elements) signed as sent', async () => {
    const xml = idpResponse((a) => a.replace(/></g, '>\n    <'), 'response', {}, (r) => r.replace(/></g, '>\n  <'));
    expect(await submit(xml)).toEqual(accepted({ email: 'jane@example.com', username: 'Jane Doe', groups: ['admins', 'staff'] }));
  });
});

describe('saml interop: attributes', () => {
  test('attributes spread over two AttributeStatements are all read', async () => {
    const xml = idpResponse(withStatements(statement(attribute('email', ['jane@example.com'])) + statement(attribute('name', ['Jane Doe']), attribute('groups', ['a']))));
    expect(await submit(xml)).toEqual(accepted({ email: 'jane@example.com', username: 'Jane Doe', groups: ['a'] }));
  });

  test('one attribute split across several Attribute elements is joined in document order', async () => {
    const xml = idpResponse(
      withStatements(statement(attribute('email', ['jane@example.com']), attribute('groups', ['a', 'b']), attribute('name', ['Jane Doe']), attribute('groups', ['c']))),
    );
    expect(await submit(xml)).toEqual(accepted({ groups: ['a', 'b', 'c'] }));
  });

  test('XML whitespace around values (an IdP that indents its values) is not part of them', async () => {
    const xml = idpResponse(
      withStatements(statement(attribute('email', ['\n      jane@example.com\n    ']), attribute('name', [' Jane Doe\t']), attribute('groups', ['\n  admins\n', ' staff ']))),
    );
    expect(await submit(xml)).toEqual(accepted({ email: 'jane@example.com', username: 'Jane Doe', groups: ['admins', 'staff'] }));
  });

  test('an empty username value is refused as empty, not as missing', async () => {
    const xml = idpResponse(withStatements(statement(attribute('email', ['jane@example.com']), '<saml:Attribute Name="name"><saml:AttributeValue/></saml:Attribute>')));
    expect(await submit(xml)).toEqual(refused(/^The assertion's attribute "name" is empty\.$/));
  });

  test('a value of only whitespace counts as empty', async () => {
    const xml = idpResponse(withStatements(statement(attribute('email', ['  \n ']), attribute('name', ['Jane Doe']))));
    expect(await submit(xml)).toEqual(refused(/^The assertion's attribute "email" is empty\.$/));
  });

  test('a 20,000-character value and 800 group values are accepted', async () => {
    const long = 'x'.repeat(20_000);
    const groups = Array.from({ length: 800 }, (_, i) => `CN=group-${i},OU=Groups,DC=corp,DC=example,DC=com`);
    const xml = idpResponse(withStatements(statement(attribute('email', ['jane@example.com']), attribute('name', [long]), attribute('groups', groups))));
    const outcome = await submit(xml);
    expect(outcome).toEqual(accepted({ username: long }));
    expect(outcome.type === 'success' && (outcome.user as { groups: string[] }).groups).toHaveLength(800);
  });
});

describe('saml interop: NameID and groups', () => {
  test.each([
    ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient', '_3f1c2a9e0b'],
    ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'jane@example.com'],
    ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', 'CORP\\jane'],
  ])('a NameID of format %s is the user id, whatever nameIDPolicyFormat asked for (as in Dex)', async (format, value) => {
    const xml = idpResponse(
      (a) => a.replace(/<saml:NameID [^>]*>[^<]*</, `<saml:NameID Format="${format}" NameQualifier="https://idp.test" SPNameQualifier="${CALLBACK}">${value}<`),
      'assertion',
      { nameID: value },
    );
    expect(await submit(xml, { nameIDPolicyFormat: 'persistent' })).toEqual(accepted({ userId: value }));
    expect(await submit(xml)).toEqual(accepted({ userId: value }));
  });

  const noGroups = (): string => idpResponse(withStatements(statement(attribute('email', ['jane@example.com']), attribute('name', ['Jane Doe']))));

  test('no groups attribute (Okta, Entra ID: a user in no group) with allowedGroups is a 403, like any user outside them', async () => {
    expect(await submit(noGroups(), { allowedGroups: ['admins'] })).toEqual(
      refused(/^You are not a member of any group allowed to log in here \(the identity provider sent no "groups" attribute\)\.$/, 403),
    );
  });

  test('a groups attribute without values and groupsDelim, with allowedGroups, is a 403', async () => {
    const xml = idpResponse(withStatements(statement(attribute('email', ['jane@example.com']), attribute('name', ['Jane Doe']), '<saml:Attribute Name="groups"/>')));
    expect(await submit(xml, { allowedGroups: ['admins'], groupsDelim: ',' })).toEqual(refused(/^You are not a member of any group/, 403));
  });

  test('no groups attribute: refused naming it when the groups scope is asked (as in Dex), a login without groups otherwise', async () => {
    expect(await submit(noGroups())).toEqual(refused(/^The assertion has no attribute "groups" \(attributes sent: email, name\)\.$/));
    expect(await submit(noGroups(), {}, { groups: false })).toEqual(accepted({ groups: [] }));
  });
});

describe('saml interop: times, audiences, addresses', () => {
  const notBefore = NOW - 60_000;
  const notOnOrAfter = NOW + 300_000;

  test.each([
    ['30 s before NotBefore', notBefore - 30_000, 'success'],
    ['30.001 s before NotBefore', notBefore - 30_001, 'fail'],
    ['29.999 s after NotOnOrAfter', notOnOrAfter + 29_999, 'success'],
    ['30 s after NotOnOrAfter', notOnOrAfter + 30_000, 'fail'],
  ])('a clock %s', async (_name, now, type) => {
    expect(await submit(idpResponse(asSent), {}, { now })).toMatchObject({ type });
  });

  test('SubjectConfirmationData expiring before the Conditions is checked on its own', async () => {
    const xml = idpResponse((a) => a.replace(/(<saml:SubjectConfirmationData [^>]*NotOnOrAfter=")[^"]*"/, `$1${new Date(NOW - 31_000).toISOString()}"`));
    expect(await submit(xml)).toEqual(refused(/expired.*\(SubjectConfirmationData\)/));
  });

  test('an AudienceRestriction naming several audiences, ours among them, is accepted', async () => {
    const xml = idpResponse((a) => a.replace(`<saml:Audience>${CALLBACK}</saml:Audience>`, `<saml:Audience>urn:other:sp</saml:Audience><saml:Audience>${CALLBACK}</saml:Audience>`));
    expect(await submit(xml)).toEqual(accepted({ userId: 'jane@example.com' }));
  });

  test('several AudienceRestrictions must each name us (SAML core 2.5.1.4, as in Dex)', async () => {
    const second = (audiences: string) => (a: string): string =>
      a.replace('</saml:AudienceRestriction>', `</saml:AudienceRestriction><saml:AudienceRestriction>${audiences}</saml:AudienceRestriction>`);
    expect(await submit(idpResponse(second(`<saml:Audience>urn:x</saml:Audience><saml:Audience>${CALLBACK}</saml:Audience>`)))).toMatchObject({ type: 'success' });
    expect(await submit(idpResponse(second('<saml:Audience>urn:x</saml:Audience>')))).toEqual(refused(/meant for urn:x, not for/));
  });

  test.each([
    ['another letter case', CALLBACK.replace('/dex/callback', '/DEX/Callback')],
    ['a trailing slash', `${CALLBACK}/`],
  ])('Destination and Recipient with %s are refused (compared exactly, as in Dex)', async (_name, recipient) => {
    expect(await submit(idpResponse(asSent, 'response', { recipient }))).toEqual(refused(/^The SAML response is addressed to /));
    expect(await submit(idpResponse(asSent, 'assertion', { recipient }))).toEqual(refused(/^The assertion is meant for /));
  });

  test('a response without InResponseTo (IdP-initiated) is refused saying so', async () => {
    const dropInResponseTo = (x: string): string => x.replace(/ InResponseTo="[^"]*"/, '');
    const unsolicited = /was not asked for \(no InResponseTo\): logins started at the identity provider \(IdP-initiated\) are not supported/;
    expect(await submit(idpResponse(dropInResponseTo, 'response', {}, dropInResponseTo))).toEqual(refused(new RegExp(`^The SAML response ${unsolicited.source}`)));
    expect(await submit(idpResponse(dropInResponseTo, 'assertion', {}, dropInResponseTo))).toEqual(refused(new RegExp(`^The assertion ${unsolicited.source}`)));
  });
});

describe('saml interop: encrypted assertions', () => {
  const key = (): Partial<SamlConfig> => ({ decryptionKeyData: pki.sp.key });
  const encrypted = (algorithm: EncryptionAlgorithm = AES256_GCM): Promise<string> => encryptAssertion(idpResponse(asSent), pki.sp, algorithm);

  test('AES-128-GCM is accepted', async () => {
    expect(await submit(await encrypted('http://www.w3.org/2009/xmlenc11#aes128-gcm'), key())).toEqual(accepted({ userId: 'jane@example.com' }));
  });

  test('the EncryptedKey beside the EncryptedData, found by a RetrievalMethod (OpenSAML), is accepted', async () => {
    const xml = await encrypted();
    const encryptedKey = /<e:EncryptedKey [\s\S]*<\/e:EncryptedKey>/.exec(xml)?.[0];
    if (encryptedKey === undefined) throw new Error('no EncryptedKey');
    const moved = xml
      .replace(encryptedKey, '<RetrievalMethod Type="http://www.w3.org/2001/04/xmlenc#EncryptedKey" URI="#_ek1"/>')
      .replace('</xenc:EncryptedData>', `</xenc:EncryptedData>${encryptedKey.replace('<e:EncryptedKey ', '<e:EncryptedKey Id="_ek1" ')}`);
    expect(await submit(moved, key())).toEqual(accepted({ userId: 'jane@example.com' }));
  });

  test.each(['http://www.w3.org/2001/04/xmlenc#rsa-1_5', 'http://www.w3.org/2009/xmlenc11#rsa-oaep'])(
    'a key transported with %s is refused naming the algorithm, not blaming the decryptionKey',
    async (algorithm) => {
      const xml = (await encrypted()).replace('http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', algorithm);
      expect(await submit(xml, key())).toEqual(
        refused(new RegExp(`^The assertion's key is encrypted with ${algorithm.replace(/[.#]/g, '\\$&')}, which this connector does not accept: use RSA-OAEP`)),
      );
    },
  );
});
