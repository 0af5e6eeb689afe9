/**
 * The directory going away and coming back: logins fail fast with a clear message while slapd is
 * down or frozen, and the same connector works again once it is back, without being recreated.
 */
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { RefreshFailedError, UpstreamError } from '../../../lib/errors.js';
import { LdapConnector, parseLdapConfig } from '../../../strategies/ldap/index.js';
import type { Slapd } from '../../servers/slapd.js';
import { allScopes, expectIdentity, ldapConfig, passwords, PEOPLE, startSeededSlapd } from './directory.js';

const CONNECT_TIMEOUT_MS = 1000;
const OPERATION_TIMEOUT_MS = 1000;

let slapd: Slapd;
let connector: LdapConnector;
beforeAll(async () => {
  slapd = await startSeededSlapd();
  connector = new LdapConnector(parseLdapConfig(ldapConfig(slapd)), {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    operationTimeoutMs: OPERATION_TIMEOUT_MS,
  });
});
afterEach(async () => {
  slapd.thaw();
  await slapd.start().catch(() => undefined);
});
afterAll(async () => {
  await slapd?.close();
});

const loginAlice = () => connector.login('alice', passwords.alice, allScopes);

/** Runs `promise` and returns how long it took to settle, in milliseconds. */
async function settleTime(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await promise.catch(() => undefined);
  return performance.now() - started;
}

test('a stopped directory fails the login at once with a clear message, and the next login after it is back works', async () => {
  expect(expectIdentity(await loginAlice()).userId).toBe('alice');
  await slapd.stop();

  const failure = loginAlice();
  await expect(failure).rejects.toBeInstanceOf(UpstreamError);
  await expect(failure).rejects.toThrow(`The LDAP server at 127.0.0.1:${slapd.port} cannot be reached`);
  expect(await settleTime(loginAlice())).toBeLessThan(CONNECT_TIMEOUT_MS);

  await slapd.start();
  expect(expectIdentity(await loginAlice()).userId).toBe('alice');
});

test('a directory that accepts connections but never answers fails the login after the operation timeout', async () => {
  slapd.freeze();
  const failure = loginAlice();
  await expect(failure).rejects.toThrow(`The LDAP server at 127.0.0.1:${slapd.port} did not answer in time`);
  expect(await settleTime(loginAlice())).toBeLessThan(OPERATION_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 1000);
  slapd.thaw();
  expect(expectIdentity(await loginAlice()).userId).toBe('alice');
});

test('a refresh while the directory is down is an upstream error, not a revoked login', async () => {
  const identity = expectIdentity(await loginAlice());
  await slapd.stop();
  const failure = connector.refresh(identity, allScopes);
  await expect(failure).rejects.toBeInstanceOf(UpstreamError);
  await expect(failure).rejects.not.toBeInstanceOf(RefreshFailedError);
  await slapd.start();
  expect((await connector.refresh(identity, allScopes)).userId).toBe('alice');
});

test('a connection lost in the middle of a login is not silently re-opened unauthenticated', async () => {
  const search = { baseDN: PEOPLE, scope: 'sub', filter: '(uid=alice)', attributes: ['uid'] } as const;
  const failure = connector.directory.session(async (session) => {
    expect(await session.search({ ...search, attributes: [...search.attributes] })).toHaveLength(1);
    await slapd.stop();
    await slapd.start();
    return session.search({ ...search, attributes: [...search.attributes] });
  });
  await expect(failure).rejects.toThrow(`The LDAP server at 127.0.0.1:${slapd.port} cannot be reached`);
  await expect(failure).rejects.toThrow(/not reconnecting/);
});

test('failed logins leave no connection open on the directory', async () => {
  for (let i = 0; i < 5; i++) await expect(connector.login('alice', 'wrong', allScopes)).resolves.toBeNull();
  for (let i = 0; i < 5; i++) await expect(connector.login('mallory', 'wrong', allScopes)).resolves.toBeNull();
  await expect(openConnectionsTo(slapd.port)).resolves.toBe(0);
});

/** Established TCP connections from this process to the port, as the kernel lists them. */
async function openConnectionsTo(port: number): Promise<number> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  // Columns: sl local_address rem_address st ...; state 01 is ESTABLISHED.
  return table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[2]?.endsWith(`:${hexPort}`) && cols[3] === '01').length;
}
