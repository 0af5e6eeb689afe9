/**
 * The certificate and key of `web.https`, read and checked at start-up (and by check-config):
 * a missing, unreadable or non-PEM file, or a key that does not match the certificate, is a
 * `ConfigError` naming `web.tlsCert` or `web.tlsKey`, not a failure at the first connection.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Settings } from './config/settings.js';
import { ConfigError, errorMessage } from './errors.js';

type Issue = { path: string; message: string };

function readPem(file: string, path: string, issues: Issue[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    issues.push({ path, message: `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err)}` });
    return undefined;
  }
}

/** `web.tlsCert` / `web.tlsKey` as PEM buffers for `https.createServer`; throws a ConfigError naming the field at fault. */
export function readTlsFiles(web: Settings['web']): { cert: Buffer; key: Buffer } {
  if (!web.tlsCert || !web.tlsKey) {
    throw new ConfigError([{ path: web.tlsCert ? 'web.tlsKey' : 'web.tlsCert', message: 'web.https needs web.tlsCert and web.tlsKey' }]);
  }
  const issues: Issue[] = [];
  const cert = readPem(web.tlsCert, 'web.tlsCert', issues);
  const key = readPem(web.tlsKey, 'web.tlsKey', issues);
  if (cert) {
    try {
      createSecureContext({ cert });
    } catch (err) {
      issues.push({ path: 'web.tlsCert', message: `${web.tlsCert} is not a PEM certificate: ${errorMessage(err)}` });
    }
  }
  if (key && issues.length === 0) {
    try {
      createSecureContext({ cert, key });
      // OpenSSL files a key of another type (EC key, RSA certificate) apart without comparing it.
      if (!new X509Certificate(cert!).checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
    } catch (err) {
      issues.push({ path: 'web.tlsKey', message: `${web.tlsKey} is not a PEM private key matching web.tlsCert: ${errorMessage(err)}` });
    }
  }
  if (issues.length > 0 || !cert || !key) throw new ConfigError(issues);
  return { cert, key };
}
