/**
 * The same load as load.test.ts, but the storage fails: down for spells, and flapping (a share
 * of operations fail, transactions break halfway). Asserted: every request answered in time;
 * the only 5xx is 503 (temporarily_unavailable / the "try again" page) while the storage fails;
 * no invalid_grant and no invalid_token for a valid token because the storage failed; and no
 * refresh token lost. One focused case more: userinfo while the storage is down after the
 * signing-key cache expired. Counts are printed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { frozenClock } from '../helpers/clock.js';
import { basicAuth, postForm } from '../helpers/http.js';
import { FlakyStorage, type StorageMode } from './flaky-storage.js';
import { describeReport, runLoad } from './load-driver.js';

const OPS = Number(process.env.LOAD_OPS ?? 3000);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 20);
const WORKERS = Number(process.env.LOAD_WORKERS ?? 24);

const config = {
  connectors: [
    { type: 'mockCallback', id: 'cb', name: 'Callback' },
    { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
  ],
  oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
};

let flaky: FlakyStorage;
let b: TestBroker;
const clock = frozenClock(Date.now());
let frozenFlaky: FlakyStorage;
let frozen: TestBroker;

beforeAll(async () => {
  flaky = await FlakyStorage.open();
  b = await startBroker(config, { storage: flaky.storage });
  frozenFlaky = await FlakyStorage.open(clock);
  frozen = await startBroker(config, { storage: frozenFlaky.storage, now: clock });
});
afterAll(async () => {
  await b.close();
  await frozen.close();
  await flaky.storage.close();
  await frozenFlaky.storage.close();
});

const PLAN: [StorageMode, number][] = [['up', 400], ['down', 200], ['up', 300], ['flapping', 400], ['up', 300], ['down', 100]];

describe('load while the storage fails and recovers', () => {
  test(
    'every request answered in time, only 503 while failing, no token refused or lost for it',
    async () => {
      const spells: Record<StorageMode, number> = { up: 0, down: 0, flapping: 0 };
      const report = await runLoad({
        issuer: b.issuer,
        fault: { on: () => flaky.mode !== 'up', failures: () => flaky.failures },
        documented: (o) => o.status === 503,
        ops: OPS,
        seconds: SECONDS,
        workers: WORKERS,
        requestTimeoutMs: 10_000,
        weather: async (step) => {
          const [mode, ms] = PLAN[step % PLAN.length]!;
          flaky.mode = mode;
          spells[mode]++;
          await new Promise((r) => setTimeout(r, ms));
        },
        clear: () => {
          flaky.mode = 'up';
        },
      });
      console.log(describeReport('storage outage', report, [`storage spells ${JSON.stringify(spells)}, ${flaky.failures} failed operations`]));
      expect(report.sessions).toBeGreaterThan(0);
      expect(flaky.failures).toBeGreaterThan(0);
      expect(report.hung).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(report.lost).toEqual([]);
      expect(report.refreshes.refusedInFault + report.refreshes.refusedWithoutFault).toBe(0);
      expect(report.refreshes.doubledDiffering).toBe(0);
      expect(report.userinfo.refusedInFault + report.userinfo.refusedWithoutFault).toBe(0);
    },
    (SECONDS + 90) * 1000,
  );
});

describe('userinfo while the storage is down', () => {
  test('a valid access token is not called invalid once the key cache needs the storage: 503, not 401', async () => {
    const res = await postForm(`${frozen.issuer}/token`, { grant_type: 'password', username: 'kilgore', password: 'trout', scope: 'openid' }, basicAuth());
    expect(res.status).toBe(200);
    clock.advance(31_000);
    frozenFlaky.mode = 'down';
    try {
      const info = await fetch(`${frozen.issuer}/userinfo`, { headers: { authorization: `Bearer ${res.body.access_token as string}` } });
      expect(info.status).toBe(503);
    } finally {
      frozenFlaky.mode = 'up';
    }
  });
});
