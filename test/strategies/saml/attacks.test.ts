/**
 * Responses from a real signer (xml-crypto acting as the IdP, keys made by openssl for this run),
 * well-formed and attacked. Each refusal must end in `fail` with a clear message and the right
 * reason, and never hand over an identity.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { EncryptionAlgorithm } from 'xml-encryption';
import type { SamlConfig } from '../../../strategies/saml/index.js';
import { SamlStrategy } from '../../../strategies/saml/index.js';
import type { SamlRefusal } from '../../../strategies/saml/errors.js';
import { MAX_DEPTH, MAX_ELEMENTS, MAX_RESPONSE_BASE64_LENGTH } from '../../../strategies/saml/xml.js';
import {
  AES128_CBC,
  AES256_CBC,
  assertionXml,
  encryptAssertion,
  idOf,
  newId,
  responseXml,
  signedResponse,
  signElement,
  type AssertionSpec,
  type SignMode,
} from '../../fakes/saml/messages.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';
import { CALLBACK, memoryLoginState, postResponse, runStrategy, brokerOptions, type Outcome } from './harness.js';

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.remove());

const REQUEST_ID = '_pending-request-1';

const jane = { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'], groups: ['admins', 'staff'] } };

function spec(over: Partial<AssertionSpec> = {}): AssertionSpec {
  return { requestId: REQUEST_ID, recipient: CALLBACK, audience: CALLBACK, ...jane, ...over };
}

interface Result {
  outcome: Outcome;
  reasons: string[];
}

function strategyFor(config: Partial<SamlConfig>, reasons: string[], now?: number): SamlStrategy {
  const logger = {
    debug: () => undefined,
    info: (obj: object) => {
      if ('reason' in obj) reasons.push(String(obj.reason));
    },
    warn: () => undefined,
    error: () => undefined,
  };
  const full: SamlConfig = {
    ssoURL: 'https://idp.test/sso',
    caData: pki.idp.cert,
    redirectURI: CALLBACK,
    usernameAttr: 'name',
    emailAttr: 'email',
    groupsAttr: 'groups',
    ...config,
  };
  return new SamlStrategy(full, { logger, ...(now === undefined ? {} : { now: () => now }) });
}

/** Posts `xml` as the answer to the pending request REQUEST_ID. */
async function submit(xml: string, config: Partial<SamlConfig> = {}, now?: number): Promise<Result> {
  const reasons: string[] = [];
  const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
  return { outcome: await postResponse(strategyFor(config, reasons, now), xml, loginState), reasons };
}

/** The same, with the strategy's clock frozen at `now`. */
const submitAt = (xml: string, now: number): Promise<Result> => submit(xml, {}, now);

function expectAccepted(result: Result, identity: object): void {
  expect(result.outcome).toEqual({ type: 'success', user: expect.objectContaining(identity) });
}

function expectRefused(result: Result, reason: SamlRefusal, message: RegExp, status = 400): void {
  expect(result.outcome).toEqual({ type: 'fail', message: expect.stringMatching(message), status });
  expect(result.reasons).toEqual([reason]);
}

const signed = (over: Partial<AssertionSpec> = {}, mode: SignMode = 'assertion'): string => signedResponse(spec(over), pki.idp, mode);

describe('saml: well-formed responses from a real signer', () => {
  test.each<SignMode>(['assertion', 'response', 'both'])('accepted when the %s is signed', async (mode) => {
    expectAccepted(await submit(signed({}, mode)), {
      userId: 'jane@example.com',
      username: 'Jane Doe',
      email: 'jane@example.com',
      emailVerified: true,
      groups: ['admins', 'staff'],
    });
  });

  test('an encrypted, signed assertion is accepted with the decryption key', async () => {
    const xml = await encryptAssertion(signed(), pki.sp);
    expectAccepted(await submit(xml, { decryptionKeyData: pki.sp.key }), { userId: 'jane@example.com' });
  });

  test('an encrypted assertion inside a signed response (encrypt, then sign the Response) is accepted', async () => {
    const encrypted = await encryptAssertion(responseXml(spec(), assertionXml(spec())), pki.sp);
    const xml = signElement(encrypted, idOf(encrypted, 'Response'), pki.idp);
    expectAccepted(await submit(xml, { decryptionKeyData: pki.sp.key }), { userId: 'jane@example.com' });
  });

  test('an encrypted assertion is refused without a decryption key', async () => {
    const xml = await encryptAssertion(signed(), pki.sp);
    expectRefused(await submit(xml), 'encrypted', /no decryptionKey/);
  });

  test('an encrypted assertion that is not signed inside is refused', async () => {
    const xml = await encryptAssertion(responseXml(spec(), assertionXml(spec())), pki.sp);
    expectRefused(await submit(xml, { decryptionKeyData: pki.sp.key }), 'unsigned', /not signed/);
  });

  test('groups split on groupsDelim', async () => {
    const xml = signed({ attributes: { ...jane.attributes, groups: ['admins;staff;ops'] } });
    expectAccepted(await submit(xml, { groupsDelim: ';' }), { groups: ['admins', 'staff', 'ops'] });
  });

  test('a missing email attribute is refused, naming it', async () => {
    const xml = signed({ attributes: { name: ['Jane Doe'] } });
    expectRefused(await submit(xml), 'attribute', /no attribute "email" \(attributes sent: name\)/);
  });

  test('ssoIssuer refuses an assertion from another issuer', async () => {
    expectRefused(await submit(signed({ issuer: 'https://evil.test' }), { ssoIssuer: 'https://idp.test/metadata' }), 'issuer', /ssoIssuer/);
  });

  test('a 29-second clock difference is tolerated', async () => {
    const now = Date.now();
    const xml = signed({ notBefore: new Date(now + 29_000) });
    expectAccepted(await submitAt(xml, now), { userId: 'jane@example.com' });
  });
});

describe('saml: refused signatures', () => {
  test('an unsigned response', async () => {
    expectRefused(await submit(signed({}, 'none')), 'unsigned', /SAML response is not signed/);
  });

  test('a response signed with another key', async () => {
    expectRefused(await submit(signedResponse(spec(), pki.attacker, 'response')), 'untrusted_signature', /not signed by a certificate this connector trusts/);
  });

  test('an assertion signed with another key', async () => {
    expectRefused(await submit(signedResponse(spec(), pki.attacker, 'assertion')), 'untrusted_signature', /not signed by a certificate/);
  });

  test('a signature by another key that names the trusted certificate in its KeyInfo', async () => {
    const impostor = { ...pki.attacker, cert: pki.idp.cert };
    const xml = signedResponse(spec(), impostor, 'assertion');
    expect(xml).toContain(pki.idp.cert.split('\n')[1]);
    expectRefused(await submit(xml), 'untrusted_signature', /not signed by a certificate this connector trusts/);
  });

  test('a valid signature over content altered afterwards (NameID)', async () => {
    const xml = signed().replace('>jane@example.com</saml:NameID>', '>admin@example.com</saml:NameID>');
    expectRefused(await submit(xml), 'altered', /changed after it was signed/);
  });

  test('a signed response whose group list was altered', async () => {
    const xml = signed({}, 'response').replace('<saml:AttributeValue>staff<', '<saml:AttributeValue>root<');
    expectRefused(await submit(xml), 'altered', /changed after it was signed/);
  });

  test('trusting only the CA that issued the IdP certificate is not enough (the signing certificate itself is trusted, as in Dex)', async () => {
    expectRefused(await submit(signed(), { caData: pki.ca.cert }), 'untrusted_signature', /not signed by a certificate/);
  });
});

describe('saml: several trusted certificates (rotation)', () => {
  /** Wraps the SignatureValue every 64 characters with `separator`, as some IdPs (Santuario) do. */
  function wrapSignatureValue(xml: string, separator: string): string {
    const value = /<SignatureValue>([^<]+)<\/SignatureValue>/.exec(xml)?.[1];
    if (value === undefined) throw new Error('no SignatureValue');
    return xml.replace(value, (value.match(/.{1,64}/g) ?? []).join(separator));
  }
  // The retired certificate first (pki.attacker's stands in for it), the one the IdP now signs with second.
  const rotation = (): Partial<SamlConfig> => ({ caData: pki.attacker.cert + pki.idp.cert });

  test.each(['\n', '&#13;\n', '&#13;'])('a response signed with the second certificate is accepted, its SignatureValue wrapped with %j', async (separator) => {
    expectAccepted(await submit(wrapSignatureValue(signed(), separator), rotation()), { userId: 'jane@example.com' });
  });

  test('a response signed by neither certificate is refused as untrusted, its SignatureValue wrapped with a lone &#13;', async () => {
    const xml = wrapSignatureValue(signedResponse(spec(), pki.sp, 'assertion'), '&#13;');
    expectRefused(await submit(xml, rotation()), 'untrusted_signature', /not signed by a certificate this connector trusts/);
  });
});

describe('saml: encrypted assertions', () => {
  const key = (): Partial<SamlConfig> => ({ decryptionKeyData: pki.sp.key });

  /** Encrypts the assertion of `response`, then signs the Response around it (encrypt, then sign). */
  async function encryptThenSignResponse(response: string, algorithm: EncryptionAlgorithm): Promise<string> {
    const encrypted = await encryptAssertion(response, pki.sp, algorithm);
    return signElement(encrypted, idOf(encrypted, 'Response'), pki.idp);
  }

  /** The EncryptedData's CipherValue (the last one: the EncryptedKey's comes first), and a way to replace it. */
  function cipherValueOf(xml: string): { bytes: Buffer; replace: (bytes: Buffer) => string } {
    const values = [...xml.matchAll(/<xenc:CipherValue>([^<]+)<\/xenc:CipherValue>/g)];
    const value = values[values.length - 1]?.[1];
    if (value === undefined) throw new Error('no CipherValue');
    return { bytes: Buffer.from(value, 'base64'), replace: (bytes) => xml.replace(value, bytes.toString('base64')) };
  }

  test.each([AES128_CBC, AES256_CBC])('%s inside a signed Response is accepted', async (algorithm) => {
    const xml = await encryptThenSignResponse(responseXml(spec(), assertionXml(spec())), algorithm);
    expectAccepted(await submit(xml, key()), { userId: 'jane@example.com' });
  });

  test('AES-CBC in an unsigned Response is refused before decrypting, asking for a signed Response or AES-GCM', async () => {
    const xml = await encryptAssertion(signed(), pki.sp, AES256_CBC);
    expectRefused(await submit(xml, key()), 'encrypted', /AES-CBC .* sign the Response, or encrypt the assertion with AES-GCM/);
  });

  test('AES-CBC is refused with insecureSkipSignatureValidation too (no signature was verified)', async () => {
    const xml = await encryptAssertion(responseXml(spec(), assertionXml(spec())), pki.sp, AES256_CBC);
    expectRefused(await submit(xml, { ...key(), insecureSkipSignatureValidation: true }), 'encrypted', /AES-CBC/);
  });

  test('no padding oracle: every alteration of the last byte before a CBC block gets the same answer', async () => {
    // The reviewer's attack: truncate after block 3 and try the 256 values of the byte that sets its padding.
    const { bytes, replace } = cipherValueOf(await encryptAssertion(signed(), pki.sp, AES256_CBC));
    const messages = new Set<string>();
    for (let x = 0; x < 256; x++) {
      const altered = Buffer.from(bytes.subarray(0, 64));
      altered[47] = x;
      const { outcome } = await submit(replace(altered), key());
      messages.add(outcome.type === 'fail' ? outcome.message : outcome.type);
    }
    expect([...messages]).toEqual([expect.stringMatching(/AES-CBC/)]);
  });

  test('an altered AES-CBC ciphertext in a signed Response is refused as altered, before decrypting', async () => {
    const xml = await encryptThenSignResponse(responseXml(spec(), assertionXml(spec())), AES256_CBC);
    const { bytes, replace } = cipherValueOf(xml);
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    expectRefused(await submit(replace(bytes), key()), 'altered', /changed after it was signed/);
  });

  test('AES-GCM: an altered ciphertext, a plaintext that is not XML, and XML that is not an assertion all get one message', async () => {
    const { bytes, replace } = cipherValueOf(await encryptAssertion(signed(), pki.sp));
    bytes[40] = (bytes[40] ?? 0) ^ 1;
    const notXml = await encryptAssertion(responseXml(spec(), '<saml:Assertion a="1"><b></saml:Assertion>'), pki.sp);
    const notAssertion = await encryptAssertion(responseXml(spec(), '<saml:Assertion xmlns:saml="urn:other"></saml:Assertion>'), pki.sp);
    for (const xml of [replace(bytes), notXml, notAssertion]) {
      expectRefused(await submit(xml, key()), 'encrypted', /^The encrypted assertion cannot be decrypted with this connector's decryptionKey\.$/);
    }
  });

  test('an encryption algorithm other than AES-GCM or AES-CBC is refused, naming what to use', async () => {
    const xml = (await encryptAssertion(signed(), pki.sp)).replace(
      'http://www.w3.org/2009/xmlenc11#aes256-gcm',
      'http://www.w3.org/2001/04/xmlenc#tripledes-cbc',
    );
    expectRefused(await submit(xml, key()), 'encrypted', /does not accept: use AES-GCM/);
  });
});

describe('saml: XML signature wrapping', () => {
  const evil = (): string => assertionXml(spec({ nameID: 'admin@example.com', attributes: { email: ['admin@example.com'], name: ['Admin'] } }));
  const signedAssertion = (over: Partial<AssertionSpec> = {}): string => {
    const a = assertionXml(spec(over));
    return signElement(a, idOf(a, 'Assertion'), pki.idp);
  };

  test('a second, unsigned assertion after the signed one', async () => {
    expectRefused(await submit(responseXml(spec(), signedAssertion() + evil())), 'wrapping', /more than one assertion/);
  });

  test('a second, unsigned assertion before the signed one', async () => {
    expectRefused(await submit(responseXml(spec(), evil() + signedAssertion())), 'wrapping', /more than one assertion/);
  });

  test('an unsigned assertion inside the signed one (in its Signature, outside the digest)', async () => {
    const wrapped = signedAssertion().replace('</Signature>', `<Object>${evil()}</Object></Signature>`);
    expect(wrapped).toContain('admin@example.com');
    expectRefused(await submit(responseXml(spec(), wrapped)), 'wrapping', /beside or inside the signed one/);
  });

  test('the signed assertion moved into an extension while an unsigned one takes its place', async () => {
    const inner = `<samlp:Extensions>${signedAssertion()}</samlp:Extensions>${evil()}`;
    // As in Dex's two-assertions fixture: only the signed assertion is read, the unsigned one never.
    expectAccepted(await submit(responseXml(spec(), inner)), { userId: 'jane@example.com', username: 'Jane Doe' });
  });

  test('a response-signed assertion moved under a new, unsigned response', async () => {
    const original = signed({}, 'response');
    const assertion = /<saml:Assertion [\s\S]*<\/saml:Assertion>/.exec(original)?.[0] ?? '';
    expectRefused(await submit(responseXml(spec(), assertion)), 'unsigned', /not signed/);
  });

  test('a signed assertion from another login moved under a response claiming this one', async () => {
    const stolen = signedAssertion({ requestId: '_another-request' });
    expectRefused(await submit(responseXml(spec(), stolen)), 'in_response_to', /answers another login request/);
  });

  test('a signed response nested inside a forged one', async () => {
    const original = signed({}, 'response');
    const forged = responseXml(spec(), `<samlp:Extensions>${original.replace(/^<\?xml[^>]*>/, '')}</samlp:Extensions>${evil()}`);
    expectRefused(await submit(forged), 'unsigned', /not signed/);
  });

  test("the assertion's signature moved up to the Response", async () => {
    const inner = signedAssertion();
    const signature = /<Signature [\s\S]*<\/Signature>/.exec(inner)?.[0] ?? '';
    expect(signature).not.toBe('');
    const xml = responseXml(spec(), inner.replace(signature, '')).replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
    expectRefused(await submit(xml), 'wrapping', /covers another element than the Response it sits in/);
  });

  test('a duplicated ID pointing the signature at a forged element', async () => {
    const good = signedAssertion();
    const id = idOf(good, 'Assertion');
    const forged = evil().replace(/ID="[^"]+"/, `ID="${id}"`);
    const xml = responseXml(spec(), `<samlp:Extensions>${forged}</samlp:Extensions>`).replace('</samlp:Response>', `${good}</samlp:Response>`);
    expectRefused(await submit(xml), 'wrapping', /appears more than once|beside or inside/);
  });
});

describe('saml: comment injection', () => {
  test('a comment inside the NameID never truncates it', async () => {
    const xml = signed({ nameID: 'admin@example.com.evil.test' }).replace('admin@example.com.evil.test<', 'admin@example.com<!---->.evil.test<');
    const result = await submit(xml);
    expectAccepted(result, { userId: 'admin@example.com.evil.test' });
  });

  test('a comment inside the email attribute never truncates it', async () => {
    const xml = signed({ attributes: { ...jane.attributes, email: ['admin@example.com.evil.test'] } }).replace(
      '>admin@example.com.evil.test<',
      '>admin@example.com<!-- injected -->.evil.test<',
    );
    expectAccepted(await submit(xml), { email: 'admin@example.com.evil.test' });
  });
});

describe('saml: refused conditions', () => {
  test('expired', async () => {
    const now = Date.now();
    expectRefused(await submitAt(signed({ notBefore: new Date(now - 600_000), notOnOrAfter: new Date(now - 31_000) }), now), 'expired', /expired at/);
  });

  test('not yet valid', async () => {
    const now = Date.now();
    expectRefused(await submitAt(signed({ notBefore: new Date(now + 120_000) }), now), 'not_yet_valid', /not valid yet/);
  });

  /** A signed assertion whose NotOnOrAfter attributes (confirmation and Conditions) are all `value`. */
  function signedWithNotOnOrAfter(value: string): string {
    const assertion = assertionXml(spec()).replace(/NotOnOrAfter="[^"]+"/g, `NotOnOrAfter="${value}"`);
    return responseXml(spec(), signElement(assertion, idOf(assertion, 'Assertion'), pki.idp));
  }

  test('a time without a time zone is refused, never read in the server\'s local time', async () => {
    const now = Date.now();
    const tomorrow = new Date(now + 86_400_000).toISOString().replace(/\.\d+Z$/, '');
    expectRefused(await submitAt(signedWithNotOnOrAfter(tomorrow), now), 'malformed', /NotOnOrAfter has no time zone: SAML times are in UTC and must end in Z/);
  });

  test('a time with an explicit offset is read at that offset', async () => {
    const now = Date.parse('2030-05-01T12:00:00Z');
    // 13:00+02:00 is 11:00Z: expired an hour ago.
    expectRefused(await submitAt(signedWithNotOnOrAfter('2030-05-01T13:00:00+02:00'), now), 'expired', /expired at 2030-05-01T11:00:00.000Z/);
    expectAccepted(await submitAt(signedWithNotOnOrAfter('2030-05-01T13:00:00-02:00'), now), { userId: 'jane@example.com' });
  });

  test('wrong audience', async () => {
    expectRefused(await submit(signed({ audience: 'https://other-sp.test' })), 'audience', /meant for https:\/\/other-sp.test/);
  });

  test('audience is entityIssuer when it is set', async () => {
    expectAccepted(await submit(signed({ audience: 'urn:dexpress:sp' }), { entityIssuer: 'urn:dexpress:sp' }), { userId: 'jane@example.com' });
  });

  test('wrong recipient', async () => {
    expectRefused(await submit(signed({ recipient: 'https://other-sp.test/acs' })), 'recipient', /meant for https:\/\/other-sp.test\/acs/);
  });

  test('wrong destination on a signed response', async () => {
    // The assertion names the right recipient; the signed Response is addressed elsewhere.
    const r = responseXml({ ...spec(), recipient: 'https://other-sp.test/acs' }, assertionXml(spec()));
    expectRefused(await submit(signElement(r, idOf(r, 'Response'), pki.idp)), 'destination', /addressed to https:\/\/other-sp.test\/acs/);
  });

  test('InResponseTo of another request', async () => {
    expectRefused(await submit(signed({ requestId: '_another-request' })), 'in_response_to', /answers another login request/);
  });

  test('InResponseTo of another request on a signed response', async () => {
    expectRefused(await submit(signed({ requestId: '_another-request' }, 'response')), 'in_response_to', /another login request/);
  });

  test('status not Success', async () => {
    const xml = signed({ status: 'urn:oasis:names:tc:SAML:2.0:status:Requester' }, 'response');
    expectRefused(await submit(xml), 'status', /did not log you in \(status Requester\)/, 403);
  });

  test('a replayed response: the second post of the same response is refused', async () => {
    const reasons: string[] = [];
    const strategy = strategyFor({}, reasons);
    const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
    const xml = signed();
    expect((await postResponse(strategy, xml, loginState)).type).toBe('success');
    const replay = await postResponse(strategy, xml, loginState);
    expectRefused({ outcome: replay, reasons }, 'no_pending_request', /no login in progress/);
  });
});

describe('saml: hostile bodies', () => {
  async function postRaw(value: unknown): Promise<Result> {
    const reasons: string[] = [];
    const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
    const outcome = await runStrategy(strategyFor({}, reasons), { method: 'POST', body: { SAMLResponse: value, RelayState: 'x' } }, brokerOptions(loginState, 'callback'));
    return { outcome, reasons };
  }

  test('a response over the size limit is refused before decoding', async () => {
    const started = Date.now();
    const result = await postRaw('A'.repeat(MAX_RESPONSE_BASE64_LENGTH + 4));
    expectRefused(result, 'too_large', /larger than 262144 bytes/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  /** A response whose assertion is validly signed, with `extensions` (ignored content) before it. */
  function withExtensions(extensions: string): string {
    const assertion = assertionXml(spec());
    return responseXml(spec(), `<samlp:Extensions>${extensions}</samlp:Extensions>${signElement(assertion, idOf(assertion, 'Assertion'), pki.idp)}`);
  }

  test('a response with more than MAX_ELEMENTS elements is refused before its signature is checked', async () => {
    const started = Date.now();
    const result = await submit(withExtensions('<x/>'.repeat(MAX_ELEMENTS)));
    expectRefused(result, 'too_large', new RegExp(`holds more than ${MAX_ELEMENTS} XML elements`));
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('a response nesting elements deeper than MAX_DEPTH is refused', async () => {
    const xml = withExtensions(`${'<x>'.repeat(MAX_DEPTH)}${'</x>'.repeat(MAX_DEPTH)}`);
    expectRefused(await submit(xml), 'too_large', new RegExp(`nests XML elements more than ${MAX_DEPTH} deep`));
  });

  test('a large real response (1,400 groups) is within the limits', async () => {
    const groups = Array.from({ length: 1400 }, (_, i) => `group-${i}`);
    const result = await submit(signed({ attributes: { ...jane.attributes, groups } }));
    expectAccepted(result, { userId: 'jane@example.com', groups });
  });

  test('malformed base64', async () => {
    expectRefused(await postRaw('PHNhbWxw%%%=='), 'malformed', /not valid base64/);
  });

  test('base64 of something that is not XML', async () => {
    expectRefused(await postRaw(Buffer.from('<samlp:Response><unclosed').toString('base64')), 'malformed', /not well-formed XML/);
  });

  test('an entity-expansion document (DOCTYPE) is refused', async () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>';
    expectRefused(await postRaw(Buffer.from(bomb).toString('base64')), 'malformed', /DOCTYPE|not well-formed/);
  });

  test('a repeated SAMLResponse field (array) is refused', async () => {
    expectRefused(await postRaw(['a', 'b']), 'malformed', /no SAMLResponse/);
  });

  test('a successful response without any assertion', async () => {
    expectRefused(await submit(responseXml(spec(), '')), 'malformed', /carries no assertion/);
  });

  test('a SAML message that is not a Response', async () => {
    const request = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="${newId()}"/>`;
    expectRefused(await postRaw(Buffer.from(request).toString('base64')), 'malformed', /did not post a SAML Response/);
  });
});
