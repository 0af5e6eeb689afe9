/**
 * LDAPS and StartTLS against a real slapd with a CA made here by openssl. The directory only
 * answers over TLS (its ACLs require a security strength of 128), so a login that works proves
 * the connection was encrypted.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { ConfigError, UpstreamError } from '../../../lib/errors.js';
import { LdapConnector, parseLdapConfig, type LdapConfigInput } from '../../../strategies/ldap/index.js';
import { createTestPki, type Slapd, type TestPki } from '../../servers/slapd.js';
import { allScopes, expectIdentity, ldapConfig, noGroups, passwords, startSeededSlapd } from './directory.js';

const TLS_ONLY_ACL = ['access to attrs=userPassword by ssf=128 auth by * none', 'access to * by ssf=128 read by * none'].join('\n');

let pki: TestPki;
let slapd: Slapd;
let clientCertSlapd: Slapd;
/** Directories whose certificate names only 127.0.0.1, and only localhost. */
let ipOnlySlapd: Slapd;
let localhostOnlySlapd: Slapd;
beforeAll(async () => {
  pki = await createTestPki();
  const tls = { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile };
  [slapd, clientCertSlapd, ipOnlySlapd, localhostOnlySlapd] = await Promise.all([
    startSeededSlapd({ tls, acl: TLS_ONLY_ACL }),
    startSeededSlapd({ tls: { ...tls, caFile: pki.caFile, requireClientCert: true } }),
    startSeededSlapd({ tls: pki.ipOnly, acl: TLS_ONLY_ACL }),
    startSeededSlapd({ tls: pki.localhostOnly, acl: TLS_ONLY_ACL }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([slapd, clientCertSlapd, ipOnlySlapd, localhostOnlySlapd].map((s) => s?.close()));
  await pki?.close();
});

const ldaps = (server: Slapd, top: Partial<LdapConfigInput>) =>
  new LdapConnector(parseLdapConfig(ldapConfig(server, { top: { host: `127.0.0.1:${server.tlsPort}`, insecureNoSSL: false, ...top } })));
const startTLS = (top: Partial<LdapConfigInput>) =>
  new LdapConnector(parseLdapConfig(ldapConfig(slapd, { top: { insecureNoSSL: false, startTLS: true, ...top } })));

const logsInAlice = async (connector: LdapConnector) => {
  const identity = expectIdentity(await connector.login('alice', passwords.alice, allScopes));
  expect(identity.userId).toBe('alice');
  expect(identity.groups).toContain('company');
};

describe('LDAPS', () => {
  test('works with the CA given as a file (rootCA)', async () => {
    await logsInAlice(ldaps(slapd, { rootCA: pki.caFile }));
  });

  test('works with the CA given inline as base64 PEM (rootCAData)', async () => {
    await logsInAlice(ldaps(slapd, { rootCAData: Buffer.from(pki.caPem).toString('base64') }));
  });

  test('fails with a TLS error when the server certificate is not trusted', async () => {
    await expect(ldaps(slapd, {}).login('alice', passwords.alice, noGroups)).rejects.toThrow(/^TLS with the LDAP server at 127\.0\.0\.1:\d+ failed/);
  });

  test('fails when only another CA is trusted', async () => {
    const failure = ldaps(slapd, { rootCA: pki.otherCaFile }).login('alice', passwords.alice, noGroups);
    await expect(failure).rejects.toBeInstanceOf(UpstreamError);
    await expect(failure).rejects.toThrow(/TLS with the LDAP server/);
  });

  test('insecureSkipVerify accepts the untrusted certificate', async () => {
    await logsInAlice(ldaps(slapd, { insecureSkipVerify: true }));
  });
});

describe('StartTLS', () => {
  test('upgrades the plain port before binding', async () => {
    await logsInAlice(startTLS({ rootCA: pki.caFile }));
  });

  test('fails with a TLS error when only another CA is trusted', async () => {
    await expect(startTLS({ rootCA: pki.otherCaFile }).login('alice', passwords.alice, noGroups)).rejects.toThrow(/TLS with the LDAP server/);
  });
});

describe('the certificate must name the configured host, IP address or DNS name', () => {
  const connector = (server: Slapd, host: string, tls: 'ldaps' | 'startTLS') =>
    new LdapConnector(
      parseLdapConfig(
        ldapConfig(server, { top: { host: `${host}:${tls === 'ldaps' ? server.tlsPort : server.port}`, insecureNoSSL: false, startTLS: tls === 'startTLS', rootCA: pki.caFile } }),
      ),
    );

  test('a certificate for the IP is accepted for that IP, by LDAPS and by StartTLS', async () => {
    await logsInAlice(connector(ipOnlySlapd, '127.0.0.1', 'ldaps'));
    await logsInAlice(connector(ipOnlySlapd, '127.0.0.1', 'startTLS'));
  });

  test('a certificate for another name is refused when connecting by IP, by LDAPS and by StartTLS', async () => {
    for (const tls of ['ldaps', 'startTLS'] as const) {
      const failure = connector(localhostOnlySlapd, '127.0.0.1', tls).login('alice', passwords.alice, noGroups);
      await expect(failure).rejects.toBeInstanceOf(UpstreamError);
      await expect(failure).rejects.toThrow(/TLS with the LDAP server at 127\.0\.0\.1:\d+ failed.*(IP: 127\.0\.0\.1 is not in the cert's list|ERR_TLS_CERT_ALTNAME_INVALID)/);
    }
  });

  test('a certificate for the DNS name is accepted for that name', async () => {
    await logsInAlice(connector(localhostOnlySlapd, 'localhost', 'startTLS'));
  });
});

describe('plain LDAP against a TLS-only directory', () => {
  test('is refused by the server, and the refusal is reported', async () => {
    const plain = new LdapConnector(parseLdapConfig(ldapConfig(slapd)));
    const failure = plain.login('alice', passwords.alice, noGroups);
    await expect(failure).rejects.toBeInstanceOf(UpstreamError);
    await expect(failure).rejects.toThrow(/bind as service account/);
  });
});

describe('client certificates', () => {
  test('a directory that demands one accepts clientCert and clientKey', async () => {
    await logsInAlice(ldaps(clientCertSlapd, { rootCA: pki.caFile, clientCert: pki.clientCertFile, clientKey: pki.clientKeyFile }));
  });

  test('without one the handshake fails', async () => {
    await expect(ldaps(clientCertSlapd, { rootCA: pki.caFile }).login('alice', passwords.alice, noGroups)).rejects.toBeInstanceOf(UpstreamError);
  });
});

describe('TLS material is checked at start-up', () => {
  test('rootCAData that holds no certificate is a config error', () => {
    expect(() => ldaps(slapd, { rootCAData: Buffer.from('not a certificate').toString('base64') })).toThrow(ConfigError);
  });

  test('an unreadable rootCA file is a config error naming the key', () => {
    expect(() => ldaps(slapd, { rootCA: '/nonexistent/ca.pem' })).toThrow(/^rootCA: cannot read \/nonexistent\/ca.pem: ENOENT/);
  });

  test('a client key that does not match the certificate is a config error', async () => {
    const notTheKey = `${pki.dir}/not-the-key.pem`;
    await writeFile(notTheKey, pki.caPem);
    expect(() => ldaps(clientCertSlapd, { rootCA: pki.caFile, clientCert: pki.clientCertFile, clientKey: notTheKey })).toThrow(
      /^clientKey: cannot use clientCert and clientKey/,
    );
  });
});
