/**
 * The authorization_code grant writes in one transaction: when storage fails halfway (after the
 * refresh token is created, on turning the code into its tombstone), the client gets 503
 * `temporarily_unavailable`, nothing of the attempt remains, and the same code then works.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { StorageUnavailableError } from '../../lib/errors.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import type { StorageOps } from '../../lib/storage/index.js';
import { startBroker, TEST_CLIENT, type TestBroker } from '../helpers/broker.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { browse } from '../helpers/rp.js';

/** Memory storage whose next transaction fails on turning the code into its tombstone. */
class FailingTombstone extends MemoryStorage {
  failNext = false;
  override async transaction<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T> {
    const failing = this.failNext;
    this.failNext = false;
    return super.transaction((tx) =>
      fn(
        failing
          ? {
              ...tx,
              update: async (kind, id, version, value, options) => {
                if (kind === 'authCode') throw new StorageUnavailableError('connection lost');
                return tx.update(kind, id, version, value, options);
              },
            }
          : tx,
      ),
    );
  }
}

const storage = new FailingTombstone();
let b: TestBroker;
beforeAll(async () => {
  b = await startBroker({ connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }] }, { storage });
});
afterAll(() => b.close());

test('storage failing midway: 503, no refresh token left behind, and the code still redeems once', async () => {
  const params = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid offline_access', state: 's1', connector_id: 'mock' });
  const { landed } = await browse(`${b.issuer}/auth?${params}`, TEST_CLIENT.redirectURI);
  const code = landed!.searchParams.get('code')!;
  const exchange = () => postForm(`${b.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());

  storage.failNext = true;
  const failed = await exchange();
  expect(failed.status).toBe(503);
  expect(failed.body.error).toBe('temporarily_unavailable');
  expect(await storage.count('refreshToken')).toBe(0);
  expect(await storage.count('authCode')).toBe(1);

  const ok = await exchange();
  expect(ok.status).toBe(200);
  expect(ok.body.refresh_token).toEqual(expect.any(String));
  expect(await storage.count('refreshToken')).toBe(1);
  expect((await exchange()).body.error).toBe('invalid_grant');
  expect(await storage.count('refreshToken')).toBe(0);
});
