/**
 * XML signature verification on xml-crypto (6.x, with the 2025 signature-bypass fixes). The
 * contract: `verifyEnvelopedSignature` answers the canonical XML that the signature covers, or
 * `null` when the element carries no signature; everything else is a refusal. Callers read the
 * identity only from that returned XML, never from the document they were handed, so content
 * outside the signed element (a wrapped or injected assertion) cannot be read.
 *
 * Before the cryptography, the shape is checked the way signature-wrapping attacks need it not
 * to be: one Signature, enveloped in the element it signs, with one Reference whose URI is that
 * element's ID (or empty on the document element), that ID unique in the document, and only the
 * transforms an enveloped SAML signature uses. The key is only ever one of the configured
 * certificates; a certificate embedded in the message (KeyInfo) is never trusted.
 */
import { SignedXml } from 'xml-crypto';
import { SamlRefusedError } from './errors.js';
import { attr, children, descendants, NS, onlyChild, textOf } from './xml.js';

const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

/** Transforms an enveloped SAML signature may use (canonicalisation, with or without comments). */
const ALLOWED_TRANSFORMS = new Set([
  ENVELOPED,
  'http://www.w3.org/2001/10/xml-exc-c14n#',
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
]);

/**
 * RSA signature methods accepted. RSA-SHA1 stays because IdPs still sign with it (the Okta
 * responses in the fixtures do), as Dex accepts it; HMAC is never accepted (key confusion).
 */
const ALLOWED_SIGNATURE_METHODS = new Set([
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);

const ID_ATTRIBUTES = ['ID', 'Id', 'id'];

function refuse(reason: 'malformed' | 'wrapping' | 'altered' | 'untrusted_signature' | 'unsigned', message: string): never {
  throw new SamlRefusedError(reason, message);
}

/** How many elements in the document carry this value in an ID-like attribute. */
function countIds(doc: Document, id: string): number {
  let count = 0;
  for (const el of Array.from(doc.getElementsByTagName('*'))) {
    for (const name of ID_ATTRIBUTES) if (el.getAttribute(name) === id && el.hasAttribute(name)) count += 1;
  }
  return count;
}

function checkShape(doc: Document, element: Element, signature: Element): void {
  const what = element.localName;
  const signedInfo = onlyChild(signature, NS.dsig, 'SignedInfo');
  if (!signedInfo) refuse('malformed', `The ${what} signature has no SignedInfo.`);
  const references = children(signedInfo, NS.dsig, 'Reference');
  if (references.length !== 1) refuse('wrapping', `The ${what} signature must reference exactly one element.`);
  const reference = references[0] as Element;

  // An xmlsec-style template (empty DigestValue / SignatureValue) was never signed.
  const signatureValue = onlyChild(signature, NS.dsig, 'SignatureValue');
  const digestValue = onlyChild(reference, NS.dsig, 'DigestValue');
  if (!signatureValue || !digestValue || textOf(signatureValue).trim() === '' || textOf(digestValue).trim() === '') {
    refuse('unsigned', `The ${what} carries an empty signature: it is not signed.`);
  }

  const uri = attr(reference, 'URI') ?? '';
  const id = attr(element, 'ID');
  if (uri === '') {
    if (element !== doc.documentElement) refuse('wrapping', `The ${what} signature covers the whole document, not the ${what}.`);
  } else if (id === undefined || uri !== `#${id}`) {
    refuse('wrapping', `The ${what} signature covers another element than the ${what} it sits in.`);
  }
  if (id !== undefined && countIds(doc, id) !== 1) {
    refuse('wrapping', `The ID of the signed ${what} appears more than once in the response.`);
  }

  const transformsEl = onlyChild(reference, NS.dsig, 'Transforms');
  const transforms = transformsEl ? children(transformsEl, NS.dsig, 'Transform').map((t) => attr(t, 'Algorithm') ?? '') : [];
  if (!transforms.includes(ENVELOPED) || transforms.length > 2 || !transforms.every((t) => ALLOWED_TRANSFORMS.has(t))) {
    refuse('malformed', `The ${what} signature uses transforms other than an enveloped signature with canonicalisation.`);
  }
  const method = onlyChild(signedInfo, NS.dsig, 'SignatureMethod');
  const algorithm = method ? attr(method, 'Algorithm') : undefined;
  if (algorithm === undefined || !ALLOWED_SIGNATURE_METHODS.has(algorithm)) {
    refuse('malformed', `The ${what} signature uses an unsupported algorithm.`);
  }
}

/**
 * Verifies the signature enveloped in `element` against the trusted certificates. `xml` is the
 * text `doc` was parsed from. Returns the signed content (canonical XML, the Signature removed),
 * or `null` when `element` has no Signature child.
 */
export function verifyEnvelopedSignature(
  xml: string,
  doc: Document,
  element: Element,
  trustedCerts: readonly string[],
): string | null {
  const signatures = children(element, NS.dsig, 'Signature');
  if (signatures.length === 0) return null;
  if (signatures.length > 1) refuse('wrapping', `The ${element.localName} carries more than one signature.`);
  const signature = signatures[0] as Element;
  checkShape(doc, element, signature);

  // xml-crypto is the XML processor here, so line endings are normalised as XML parsing does.
  const normalized = xml.replace(/\r\n?/g, '\n');
  // Each certificate gets its own check, and only `true` from one of them accepts. A failure with
  // one certificate (whatever its message says) moves on to the next; its message only picks the
  // refusal's wording once every certificate has failed.
  let everyFailureWasTheKey = true;
  for (const cert of trustedCerts) {
    const verifier = new SignedXml({ publicCert: cert });
    let valid: boolean;
    try {
      verifier.loadSignature(signature);
      valid = verifier.checkSignature(normalized);
    } catch (err) {
      everyFailureWasTheKey &&= isWrongKey(err);
      continue;
    }
    if (!valid) {
      // The digest of the referenced content does not match: changed after it was signed (the
      // digest does not depend on the key, so no other certificate can make it match).
      return refuse('altered', `The signed ${element.localName} was changed after it was signed.`);
    }
    const signed = verifier.getSignedReferences();
    if (signed.length !== 1 || signed[0] === undefined) refuse('wrapping', `The ${element.localName} signature covers more than one element.`);
    return signed[0];
  }
  if (!everyFailureWasTheKey) return refuse('malformed', `The ${element.localName} signature cannot be checked.`);
  return refuse('untrusted_signature', `The ${element.localName} is not signed by a certificate this connector trusts (ca / caData).`);
}

/**
 * Whether xml-crypto refused the SignatureValue for this key (`invalid signature: the signature
 * value <value> is incorrect`). The value is the message's text, which can span lines, so the
 * message is matched by its fixed start and end. Used only to word a refusal.
 */
function isWrongKey(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('invalid signature: the signature value ') && err.message.endsWith(' is incorrect');
}

/** Every element under `root` (the element itself excluded) with this SAML name. */
export function nestedElements(root: Element, ns: string, localName: string): Element[] {
  return descendants(root, ns, localName).filter((el) => el !== root);
}
