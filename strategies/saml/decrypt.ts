/**
 * Encrypted assertions (`<saml:EncryptedAssertion>`), decrypted with the connector's private key
 * (`decryptionKey` / `decryptionKeyData`) through xml-encryption, the library node-saml uses.
 * RSA PKCS#1 v1.5 key transport and 3DES are refused (known-insecure); RSA-OAEP with AES-CBC or
 * AES-GCM is accepted. Decryption gives no trust by itself: the decrypted assertion still needs a
 * valid signature of its own, or an enclosing Response signature.
 */
import { decrypt } from 'xml-encryption';
import { SamlRefusedError } from './errors.js';

export function decryptAssertion(encryptedAssertion: Element, privateKeyPem: string | undefined): Promise<string> {
  if (privateKeyPem === undefined) {
    return Promise.reject(
      new SamlRefusedError('encrypted', 'The identity provider encrypted the assertion, but this connector has no decryptionKey.'),
    );
  }
  return new Promise((resolve, reject) => {
    decrypt(
      encryptedAssertion.toString(),
      { key: privateKeyPem, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false },
      (err, result) => {
        if (err || typeof result !== 'string' || result === '') {
          reject(new SamlRefusedError('encrypted', 'The encrypted assertion cannot be decrypted with this connector\'s decryptionKey.'));
        } else {
          resolve(result);
        }
      },
    );
  });
}
