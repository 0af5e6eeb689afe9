/**
 * Encrypted assertions (`<saml:EncryptedAssertion>`), decrypted with the connector's private key
 * (`decryptionKey` / `decryptionKeyData`) through xml-encryption, the library node-saml uses.
 * RSA PKCS#1 v1.5 key transport and 3DES are refused (known-insecure). AES-GCM is accepted; AES-CBC
 * only when the ciphertext sits in a Response whose signature was verified first. CBC has no
 * integrity of its own: in an unsigned Response anyone could alter the ciphertext and, from whether
 * the padding or the XML was wrong, decrypt a captured assertion byte by byte (a padding oracle).
 *
 * Every failure from the ciphertext on (key transport, padding, authentication tag, the decrypted
 * text not being XML or not an assertion) is refused with one and the same message, so a refusal
 * tells nothing about the plaintext. Decryption gives no trust by itself: the decrypted assertion
 * still needs a valid signature of its own, or an enclosing Response signature.
 */
import { decrypt } from 'xml-encryption';
import { SamlRefusedError } from './errors.js';
import { attr, isElement, NS, parseXml } from './xml.js';

const AES_GCM = new Set(['http://www.w3.org/2009/xmlenc11#aes128-gcm', 'http://www.w3.org/2009/xmlenc11#aes256-gcm']);
const AES_CBC = new Set(['http://www.w3.org/2001/04/xmlenc#aes128-cbc', 'http://www.w3.org/2001/04/xmlenc#aes256-cbc']);
/** The one key transport xml-encryption decrypts that is not refused as insecure (RSA PKCS#1 v1.5 is). */
const RSA_OAEP_MGF1P = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p';

/** The one message for any ciphertext that does not decrypt to a SAML assertion. */
export const UNDECRYPTABLE = "The encrypted assertion cannot be decrypted with this connector's decryptionKey.";

export interface DecryptedAssertion {
  /** The decrypted text, which `assertion` was parsed from. */
  xml: string;
  doc: Document;
  assertion: Element;
}

function refuse(message: string): never {
  throw new SamlRefusedError('encrypted', message);
}

/**
 * The content encryption algorithm of the EncryptedAssertion, read the way xml-encryption will find
 * it (any namespace, by local name): exactly one EncryptedData, a direct xenc child, with exactly one
 * EncryptionMethod, so that the algorithm checked here is the one used to decrypt.
 */
function contentAlgorithm(encryptedAssertion: Element): string {
  const data = Array.from(encryptedAssertion.getElementsByTagNameNS('*', 'EncryptedData'));
  const only = data[0];
  if (data.length !== 1 || !only || only.parentNode !== encryptedAssertion || only.namespaceURI !== NS.xenc) {
    refuse('The EncryptedAssertion must hold exactly one xenc:EncryptedData.');
  }
  const methods = Array.from(only.childNodes).filter((n): n is Element => isElement(n) && n.localName === 'EncryptionMethod');
  const method = methods[0];
  const algorithm = method && methods.length === 1 && method.namespaceURI === NS.xenc ? attr(method, 'Algorithm') : undefined;
  if (algorithm === undefined) refuse('The encrypted assertion must name exactly one EncryptionMethod.');
  return algorithm;
}

/**
 * Refuses, naming it, a key transport other than RSA-OAEP (rsa-oaep-mgf1p): RSA PKCS#1 v1.5, or
 * XML Encryption 1.1's `xmlenc11#rsa-oaep`, which xml-encryption cannot decrypt. The algorithm is
 * in clear text, so naming it tells nothing about the plaintext; otherwise the IdP admin would be
 * told the decryptionKey is wrong. Every xenc:EncryptedKey is read, inside the KeyInfo or beside
 * the EncryptedData (OpenSAML's layout with a RetrievalMethod).
 */
function checkKeyTransport(encryptedAssertion: Element): void {
  for (const key of Array.from(encryptedAssertion.getElementsByTagNameNS(NS.xenc, 'EncryptedKey'))) {
    for (const method of Array.from(key.childNodes).filter((n): n is Element => isElement(n) && n.localName === 'EncryptionMethod')) {
      const algorithm = attr(method, 'Algorithm');
      if (algorithm !== RSA_OAEP_MGF1P) {
        refuse(`The assertion's key is encrypted with ${algorithm ?? 'no algorithm'}, which this connector does not accept: use RSA-OAEP (${RSA_OAEP_MGF1P}).`);
      }
    }
  }
}

/**
 * Decrypts and parses an EncryptedAssertion. `responseSignatureVerified` says whether the
 * ciphertext was covered by a Response signature checked before this call; AES-CBC is refused
 * without it.
 */
export async function decryptAssertion(
  encryptedAssertion: Element,
  privateKeyPem: string | undefined,
  responseSignatureVerified: boolean,
): Promise<DecryptedAssertion> {
  if (privateKeyPem === undefined) {
    refuse('The identity provider encrypted the assertion, but this connector has no decryptionKey.');
  }
  const algorithm = contentAlgorithm(encryptedAssertion);
  checkKeyTransport(encryptedAssertion);
  if (AES_CBC.has(algorithm) && !responseSignatureVerified) {
    refuse(
      'The assertion is encrypted with AES-CBC in a Response whose signature was not verified; AES-CBC is accepted only ' +
        'inside a signed Response, as its ciphertext can otherwise be altered to decrypt it. Have the identity provider ' +
        'sign the Response, or encrypt the assertion with AES-GCM.',
    );
  }
  if (!AES_CBC.has(algorithm) && !AES_GCM.has(algorithm)) {
    refuse('The assertion is encrypted with an algorithm this connector does not accept: use AES-GCM (aes128-gcm or aes256-gcm).');
  }
  const xml = await new Promise<string>((resolve, reject) => {
    decrypt(
      encryptedAssertion.toString(),
      { key: privateKeyPem, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false },
      (err, result) => {
        if (err || typeof result !== 'string' || result === '') reject(new SamlRefusedError('encrypted', UNDECRYPTABLE));
        else resolve(result);
      },
    );
  });
  let doc: Document;
  try {
    doc = parseXml(xml, 'decrypted assertion');
  } catch {
    refuse(UNDECRYPTABLE);
  }
  const assertion = doc.documentElement;
  if (assertion.namespaceURI !== NS.assertion || assertion.localName !== 'Assertion') refuse(UNDECRYPTABLE);
  return { xml, doc, assertion };
}
