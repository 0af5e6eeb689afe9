/**
 * Keys and certificates for the SAML tests, made with `openssl` in a throwaway directory: a CA, the
 * IdP's signing certificate issued by it, an attacker's self-signed certificate, and the service
 * provider's encryption key pair.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface KeyPair {
  key: string;
  cert: string;
  keyFile: string;
  certFile: string;
}

export interface Pki {
  dir: string;
  ca: KeyPair;
  /** The IdP's signing key, its certificate issued by `ca`. */
  idp: KeyPair;
  /** A key the connector does not trust (self-signed, same subject as the IdP's). */
  attacker: KeyPair;
  /** The service provider's key for encrypted assertions. */
  sp: KeyPair;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 20_000 });
}

function selfSigned(dir: string, name: string, subject: string): KeyPair {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', subject, '-days', '2']);
  return load(dir, name);
}

function load(dir: string, name: string): KeyPair {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), keyFile, certFile };
}

export function makePki(): Pki {
  const dir = mkdtempSync(path.join(tmpdir(), 'dexpress-saml-'));
  const ca = selfSigned(dir, 'ca', '/CN=dexpress test SAML CA');
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'idp.key', '-out', 'idp.csr', '-subj', '/CN=idp.test']);
  openssl(dir, ['x509', '-req', '-in', 'idp.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'idp.crt', '-days', '2']);
  return {
    dir,
    ca,
    idp: load(dir, 'idp'),
    attacker: selfSigned(dir, 'attacker', '/CN=idp.test'),
    sp: selfSigned(dir, 'sp', '/CN=sp.test'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
