/**
 * What an IdP sends: SAML Responses built as Okta / Keycloak shape them, signed for real with
 * xml-crypto (RSA-SHA256, exclusive C14N, the Signature right after the Issuer, as the SAML
 * schema places it), or with Debian's `xmlsec1`, and encrypted with xml-encryption.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignedXml } from 'xml-crypto';
import { encrypt, type EncryptionAlgorithm } from 'xml-encryption';
import type { KeyPair } from './pki.js';

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

export interface AssertionSpec {
  /** The AuthnRequest ID answered (Response and SubjectConfirmationData InResponseTo). */
  requestId: string;
  /** Response Destination and SubjectConfirmationData Recipient. */
  recipient: string;
  audience: string;
  nameID: string;
  attributes: Record<string, string[]>;
  issuer?: string;
  /** Defaults: one minute ago, and five minutes from now. */
  notBefore?: Date;
  notOnOrAfter?: Date;
  status?: string;
  responseId?: string;
  assertionId?: string;
}

const esc = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const newId = (): string => `_${randomBytes(12).toString('hex')}`;

export const IDP_ISSUER = 'https://idp.test/metadata';

export function assertionXml(spec: AssertionSpec): string {
  const now = Date.now();
  const notBefore = (spec.notBefore ?? new Date(now - 60_000)).toISOString();
  const notOnOrAfter = (spec.notOnOrAfter ?? new Date(now + 300_000)).toISOString();
  const attributes = Object.entries(spec.attributes)
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${esc(name)}">${values.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`,
    )
    .join('');
  return (
    `<saml:Assertion xmlns:saml="${ASSERTION}" ID="${spec.assertionId ?? newId()}" Version="2.0" IssueInstant="${new Date(now).toISOString()}">` +
    `<saml:Issuer>${esc(spec.issuer ?? IDP_ISSUER)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${esc(spec.nameID)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData InResponseTo="${esc(spec.requestId)}" NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(spec.recipient)}"/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${esc(spec.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${new Date(now).toISOString()}" SessionIndex="${newId()}"><saml:AuthnContext>` +
    `<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>` +
    `</saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` +
    `</saml:Assertion>`
  );
}

/** A Response around `inner` (one or more assertions, or anything an attacker puts there). */
export function responseXml(spec: Pick<AssertionSpec, 'requestId' | 'recipient' | 'issuer' | 'status' | 'responseId'>, inner: string): string {
  return (
    `<samlp:Response xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="${spec.responseId ?? newId()}" Version="2.0"` +
    ` IssueInstant="${new Date().toISOString()}" Destination="${esc(spec.recipient)}" InResponseTo="${esc(spec.requestId)}">` +
    `<saml:Issuer>${esc(spec.issuer ?? IDP_ISSUER)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${esc(spec.status ?? SUCCESS)}"/></samlp:Status>` +
    inner +
    `</samlp:Response>`
  );
}

/** Signs the element with this ID (enveloped, placed after its Issuer). */
export function signElement(xml: string, id: string, signer: KeyPair): string {
  const sig = new SignedXml({
    privateKey: signer.key,
    publicCert: signer.cert,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  const target = `//*[@ID='${id}']`;
  sig.addReference({
    xpath: target,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

export function idOf(xml: string, localName: 'Response' | 'Assertion'): string {
  const match = new RegExp(`<\\w+:${localName} [^>]*?ID="([^"]+)"`).exec(xml);
  if (!match?.[1]) throw new Error(`no ${localName} ID`);
  return match[1];
}

export type SignMode = 'assertion' | 'response' | 'both' | 'none';

/** A complete IdP answer: the assertion signed, the response signed, or both (sign the assertion first). */
export function signedResponse(spec: AssertionSpec, signer: KeyPair, mode: SignMode = 'assertion'): string {
  let assertion = assertionXml(spec);
  if (mode === 'assertion' || mode === 'both') assertion = signElement(assertion, idOf(assertion, 'Assertion'), signer);
  const response = responseXml(spec, assertion);
  return mode === 'response' || mode === 'both' ? signElement(response, idOf(response, 'Response'), signer) : response;
}

export const AES256_GCM: EncryptionAlgorithm = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
export const AES128_CBC: EncryptionAlgorithm = 'http://www.w3.org/2001/04/xmlenc#aes128-cbc';
export const AES256_CBC: EncryptionAlgorithm = 'http://www.w3.org/2001/04/xmlenc#aes256-cbc';

/**
 * Replaces the (signed) assertion in a response by an EncryptedAssertion for the SP's certificate,
 * encrypted with RSA-OAEP and `encryptionAlgorithm` (AES-256-GCM by default).
 */
export async function encryptAssertion(response: string, sp: KeyPair, encryptionAlgorithm: EncryptionAlgorithm = AES256_GCM): Promise<string> {
  const match = /<saml:Assertion [\s\S]*<\/saml:Assertion>/.exec(response);
  if (!match) throw new Error('no assertion to encrypt');
  const encrypted = await new Promise<string>((resolve, reject) => {
    encrypt(
      match[0],
      {
        rsa_pub: sp.cert,
        pem: sp.cert,
        encryptionAlgorithm,
        keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  return response.replace(match[0], `<saml:EncryptedAssertion>${encrypted}</saml:EncryptedAssertion>`);
}

/** Signs an xmlsec1 template (a Response with an empty Signature) with Debian's `xmlsec1`. */
export function signWithXmlsec1(template: string, signer: KeyPair): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dexpress-xmlsec-'));
  try {
    writeFileSync(path.join(dir, 'in.xml'), template);
    execFileSync(
      'xmlsec1',
      ['--sign', '--privkey-pem', `${signer.keyFile},${signer.certFile}`, '--id-attr:ID', `${PROTOCOL}:Response`, '--output', 'out.xml', 'in.xml'],
      { cwd: dir, stdio: 'pipe', timeout: 20_000 },
    );
    return readFileSync(path.join(dir, 'out.xml'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const toBase64 = (xml: string): string => Buffer.from(xml, 'utf8').toString('base64');
