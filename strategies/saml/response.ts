/**
 * Validation of a posted SAML Response, in Dex's order (connector/saml/saml.go HandlePOST): size
 * and encoding, XML, signature, the Response's own fields, then the assertion's subject
 * confirmation, conditions, NameID and attributes. A short pipeline of named checks; each refuses
 * with a `SamlRefusedError` naming what was wrong.
 *
 * The one rule that matters most: identity is read only from XML a verified signature covers. When
 * the Response is signed, that is the canonical Response the signature covers; when only the
 * assertion is, that assertion's canonical form, and nothing else from the document.
 */
import { decryptAssertion } from './decrypt.js';
import { SamlRefusedError } from './errors.js';
import { nestedElements, verifyEnvelopedSignature } from './signature.js';
import { parseSamlTime } from './times.js';
import { attr, children, decodeSamlResponse, descendants, NS, onlyChild, parseXml, textOf } from './xml.js';

const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** XML whitespace (space, tab, CR, LF) at either end of a value. */
const XML_SPACE_AROUND = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/** Allowed clock difference with the IdP, as in Dex (30 s). */
export const CLOCK_SKEW_MS = 30_000;

export interface ResponseChecks {
  /** PEM certificates trusted for signatures; `null` skips signature checks (insecureSkipSignatureValidation). */
  trustedCerts: readonly string[] | null;
  decryptionKey: string | undefined;
  /** Where responses must be addressed (Destination, Recipient). */
  redirectURI: string;
  /** The audience assertions must name. */
  audience: string;
  ssoIssuer: string | undefined;
  /** Current time in ms (frozen in tests). */
  now: () => number;
}

/** What a verified assertion says about the user. */
export interface VerifiedAssertion {
  nameID: string;
  /**
   * Attribute values by Name, in document order (several Attribute elements of one Name, in one or
   * several AttributeStatements, are joined), without the XML whitespace around them.
   */
  attributes: Map<string, string[]>;
}

export interface SignedParts {
  /** The Response to read protocol fields from: the signed one, or the received one when only the assertion is signed. */
  response: Element;
  responseSigned: boolean;
  /** The assertion, taken from signed XML only. */
  assertion: Element;
}

/**
 * Validates `samlResponse` (the base64 form value) as the answer to the AuthnRequest
 * `expectedRequestId`, and returns what the signed assertion says.
 */
export async function validateSamlResponse(
  samlResponse: unknown,
  expectedRequestId: string,
  checks: ResponseChecks,
): Promise<VerifiedAssertion> {
  const xml = decodeSamlResponse(samlResponse);
  const doc = parseXml(xml);
  const root = doc.documentElement;
  if (root.namespaceURI !== NS.protocol || root.localName !== 'Response') {
    throw new SamlRefusedError('malformed', 'The identity provider did not post a SAML Response.');
  }
  checkStatus(root);
  const parts = await signedParts(xml, doc, root, checks);
  checkResponseFields(parts, expectedRequestId, checks);
  checkIssuer(parts.assertion, checks.ssoIssuer);
  const subject = onlyChild(parts.assertion, NS.assertion, 'Subject');
  if (!subject) throw new SamlRefusedError('subject', 'The assertion has no Subject.');
  checkSubjectConfirmation(subject, expectedRequestId, checks);
  checkConditions(parts.assertion, checks);
  return { nameID: nameIDOf(subject), attributes: attributesOf(parts.assertion) };
}

/**
 * Status must be Success. Checked on the Response as received, signed or not: a failure status
 * only ever refuses, and IdPs often leave error responses unsigned.
 */
function checkStatus(response: Element): void {
  const status = onlyChild(response, NS.protocol, 'Status');
  const code = status ? onlyChild(status, NS.protocol, 'StatusCode') : undefined;
  const value = code ? attr(code, 'Value') : undefined;
  if (value === undefined) throw new SamlRefusedError('malformed', 'The SAML response has no Status code.');
  if (value !== STATUS_SUCCESS) {
    const nested = code ? onlyChild(code, NS.protocol, 'StatusCode') : undefined;
    const detail = [value, nested ? attr(nested, 'Value') : undefined]
      .filter((v): v is string => v !== undefined)
      .map((v) => v.slice(v.lastIndexOf(':') + 1))
      .join('/');
    throw new SamlRefusedError('status', `The identity provider did not log you in (status ${detail}).`, 403);
  }
}

/**
 * The signature step alone: which parts of the response are trusted, with the assertion read from
 * signed (or signed-then-decrypted) XML. Refuses when nothing trusted carries the assertion.
 */
export async function signedParts(
  xml: string,
  doc: Document,
  root: Element,
  checks: Pick<ResponseChecks, 'trustedCerts' | 'decryptionKey'>,
): Promise<SignedParts> {
  if (checks.trustedCerts === null) {
    // insecureSkipSignatureValidation: everything is taken as if signed, as Dex does.
    // Nothing was verified, so AES-CBC is refused here too (see decrypt.ts).
    return { response: root, responseSigned: true, assertion: await soleAssertion(root, checks, false) };
  }
  const signedResponse = verifyEnvelopedSignature(xml, doc, root, checks.trustedCerts);
  if (signedResponse !== null) {
    const response = parseXml(signedResponse, 'signed response').documentElement;
    return { response, responseSigned: true, assertion: await soleAssertion(response, checks, true) };
  }
  return { response: root, responseSigned: false, assertion: await signedAssertion(xml, doc, root, checks) };
}

/**
 * The one assertion of a Response trusted as a whole (signed), decrypted if need be.
 * `signatureVerified` is false only with insecureSkipSignatureValidation.
 */
async function soleAssertion(
  response: Element,
  checks: Pick<ResponseChecks, 'decryptionKey'>,
  signatureVerified: boolean,
): Promise<Element> {
  const plain = children(response, NS.assertion, 'Assertion');
  const encrypted = children(response, NS.assertion, 'EncryptedAssertion');
  if (plain.length + encrypted.length > 1) {
    throw new SamlRefusedError('wrapping', 'The SAML response carries more than one assertion.');
  }
  if (plain[0]) return plain[0];
  if (encrypted[0]) {
    return (await decryptAssertion(encrypted[0], checks.decryptionKey, signatureVerified)).assertion;
  }
  throw new SamlRefusedError('malformed', 'The SAML response carries no assertion.');
}

/**
 * The Response is not signed: the assertion must be. Among the assertions anywhere in the
 * document, the one carrying a signature is verified and only its signed form is used. An
 * unsigned assertion next to it, or more than one assertion in the Response, is a wrapping
 * attempt. An unsigned assertion elsewhere is ignored, as Dex ignores it.
 */
async function signedAssertion(
  xml: string,
  doc: Document,
  root: Element,
  checks: Pick<ResponseChecks, 'trustedCerts' | 'decryptionKey'>,
): Promise<Element> {
  const certs = checks.trustedCerts ?? [];
  const direct = [...children(root, NS.assertion, 'Assertion'), ...children(root, NS.assertion, 'EncryptedAssertion')];
  if (direct.length > 1) throw new SamlRefusedError('wrapping', 'The SAML response carries more than one assertion.');

  const plain = descendants(doc, NS.assertion, 'Assertion');
  const encrypted = descendants(doc, NS.assertion, 'EncryptedAssertion');
  if (plain.length === 0 && encrypted.length === 0) throw new SamlRefusedError('malformed', 'The SAML response carries no assertion.');
  if (plain.length === 0 && encrypted.length === 1 && encrypted[0]) {
    // The Response is not signed: nothing vouches for the ciphertext, so AES-CBC is refused.
    const decrypted = await decryptAssertion(encrypted[0], checks.decryptionKey, false);
    const signed = verifyEnvelopedSignature(decrypted.xml, decrypted.doc, decrypted.assertion, certs);
    if (signed === null) throw new SamlRefusedError('unsigned', 'The SAML response is not signed (neither the Response nor its assertion carries a signature).');
    return asAssertion(parseXml(signed, 'signed assertion').documentElement);
  }

  const candidates = plain.filter((a) => children(a, NS.dsig, 'Signature').length > 0);
  if (candidates.length > 1) throw new SamlRefusedError('wrapping', 'The SAML response carries more than one signed assertion.');
  const candidate = candidates[0];
  if (!candidate) throw new SamlRefusedError('unsigned', 'The SAML response is not signed (neither the Response nor its assertion carries a signature).');
  const siblings = candidate.parentNode
    ? children(candidate.parentNode as Element, NS.assertion, 'Assertion').length +
      children(candidate.parentNode as Element, NS.assertion, 'EncryptedAssertion').length
    : 1;
  if (siblings > 1 || nestedElements(candidate, NS.assertion, 'Assertion').length > 0) {
    throw new SamlRefusedError('wrapping', 'An unsigned assertion sits beside or inside the signed one.');
  }
  const signed = verifyEnvelopedSignature(xml, doc, candidate, certs);
  if (signed === null) throw new SamlRefusedError('unsigned', 'The SAML response is not signed (neither the Response nor its assertion carries a signature).');
  return asAssertion(parseXml(signed, 'signed assertion').documentElement);
}

function asAssertion(el: Element): Element {
  if (el.namespaceURI !== NS.assertion || el.localName !== 'Assertion') {
    throw new SamlRefusedError('malformed', 'The signed or decrypted content is not a SAML assertion.');
  }
  return el;
}

/**
 * The Response's Issuer, InResponseTo and Destination, when the Response is signed (as Dex does).
 * When only the assertion is signed these fields are not trusted, and the assertion's own
 * SubjectConfirmationData carries the InResponseTo and Recipient checks.
 */
function checkResponseFields(parts: SignedParts, expectedRequestId: string, checks: ResponseChecks): void {
  const { response, responseSigned } = parts;
  if (!responseSigned) return;
  const issuer = onlyChild(response, NS.assertion, 'Issuer');
  if (checks.ssoIssuer !== undefined && issuer && textOf(issuer) !== checks.ssoIssuer) {
    throw new SamlRefusedError('issuer', 'The response was not issued by the configured ssoIssuer.');
  }
  checkInResponseTo(attr(response, 'InResponseTo'), expectedRequestId, 'SAML response');
  const destination = attr(response, 'Destination');
  if (destination !== undefined && destination !== checks.redirectURI) {
    throw new SamlRefusedError('destination', `The SAML response is addressed to ${destination}, not to this connector's redirectURI.`);
  }
}

/** InResponseTo must name the pending request; without one the response is IdP-initiated, which is not supported. */
function checkInResponseTo(inResponseTo: string | undefined, expectedRequestId: string, what: string): void {
  if (inResponseTo === undefined || inResponseTo === '') {
    throw new SamlRefusedError(
      'in_response_to',
      `The ${what} was not asked for (no InResponseTo): logins started at the identity provider (IdP-initiated) are not supported; start the login from the application.`,
    );
  }
  if (inResponseTo !== expectedRequestId) {
    throw new SamlRefusedError('in_response_to', `The ${what} answers another login request (InResponseTo).`);
  }
}

/** With `ssoIssuer` configured, the assertion's Issuer must be it. */
function checkIssuer(assertion: Element, ssoIssuer: string | undefined): void {
  if (ssoIssuer === undefined) return;
  const issuer = onlyChild(assertion, NS.assertion, 'Issuer');
  if (!issuer || textOf(issuer) !== ssoIssuer) {
    throw new SamlRefusedError('issuer', 'The assertion was not issued by the configured ssoIssuer.');
  }
}

function checkTimes(el: Element, what: string, now: number): void {
  const notBefore = parseSamlTime(attr(el, 'NotBefore'), `${what} NotBefore`);
  const notOnOrAfter = parseSamlTime(attr(el, 'NotOnOrAfter'), `${what} NotOnOrAfter`);
  if (notBefore !== undefined && now + CLOCK_SKEW_MS < notBefore) {
    throw new SamlRefusedError('not_yet_valid', `The assertion is not valid yet (${what} NotBefore ${new Date(notBefore).toISOString()}).`);
  }
  if (notOnOrAfter !== undefined && now - CLOCK_SKEW_MS >= notOnOrAfter) {
    throw new SamlRefusedError('expired', `The assertion expired at ${new Date(notOnOrAfter).toISOString()} (${what}).`);
  }
}

/**
 * One bearer SubjectConfirmation must hold (SAML profiles 4.1.4.2): it answers our request, is
 * within its validity window, and names our redirectURI as Recipient. Dex treats Recipient as
 * optional; it is required here, as the profile requires it.
 */
function checkSubjectConfirmation(subject: Element, expectedRequestId: string, checks: ResponseChecks): void {
  const confirmations = children(subject, NS.assertion, 'SubjectConfirmation');
  if (confirmations.length === 0) throw new SamlRefusedError('subject', 'The assertion has no SubjectConfirmation.');
  let firstError: SamlRefusedError | undefined;
  for (const confirmation of confirmations) {
    try {
      if (attr(confirmation, 'Method') !== BEARER) throw new SamlRefusedError('subject', 'The subject confirmation is not a bearer confirmation.');
      const data = onlyChild(confirmation, NS.assertion, 'SubjectConfirmationData');
      if (!data) throw new SamlRefusedError('subject', 'The subject confirmation has no SubjectConfirmationData.');
      checkInResponseTo(attr(data, 'InResponseTo'), expectedRequestId, 'assertion');
      checkTimes(data, 'SubjectConfirmationData', checks.now());
      const recipient = attr(data, 'Recipient');
      if (recipient !== checks.redirectURI) {
        throw new SamlRefusedError('recipient', `The assertion is meant for ${recipient ?? 'no recipient'}, not this connector's redirectURI.`);
      }
      return;
    } catch (err) {
      if (!(err instanceof SamlRefusedError)) throw err;
      firstError ??= err;
    }
  }
  throw firstError ?? new SamlRefusedError('subject', 'No subject confirmation holds.');
}

/** Conditions: validity window, and every AudienceRestriction must name our audience (at least one is required). */
function checkConditions(assertion: Element, checks: ResponseChecks): void {
  const conditions = onlyChild(assertion, NS.assertion, 'Conditions');
  if (!conditions) throw new SamlRefusedError('audience', 'The assertion has no Conditions, so no audience restriction.');
  checkTimes(conditions, 'Conditions', checks.now());
  const restrictions = children(conditions, NS.assertion, 'AudienceRestriction');
  if (restrictions.length === 0) throw new SamlRefusedError('audience', 'The assertion has no audience restriction.');
  for (const restriction of restrictions) {
    const audiences = children(restriction, NS.assertion, 'Audience').map(textOf);
    if (!audiences.includes(checks.audience)) {
      throw new SamlRefusedError('audience', `The assertion is meant for ${audiences.join(', ') || 'no audience'}, not for ${checks.audience}.`);
    }
  }
}

/** The NameID, whole (a comment inside it does not cut it short); an empty one is refused. */
function nameIDOf(subject: Element): string {
  const nameID = onlyChild(subject, NS.assertion, 'NameID');
  if (!nameID) throw new SamlRefusedError('subject', 'The subject has no NameID.');
  const value = textOf(nameID);
  if (value === '') throw new SamlRefusedError('subject', 'The NameID is empty.');
  return value;
}

function attributesOf(assertion: Element): Map<string, string[]> {
  const attributes = new Map<string, string[]>();
  for (const statement of children(assertion, NS.assertion, 'AttributeStatement')) {
    for (const attribute of children(statement, NS.assertion, 'Attribute')) {
      const name = attr(attribute, 'Name');
      if (name === undefined) continue;
      // An IdP that indents its XML indents values too: `<AttributeValue>\n  jane@example.com\n</AttributeValue>`.
      const values = children(attribute, NS.assertion, 'AttributeValue').map((value) => textOf(value).replace(XML_SPACE_AROUND, ''));
      attributes.set(name, [...(attributes.get(name) ?? []), ...values]);
    }
  }
  return attributes;
}
