/**
 * Load on loopback, bounded (LOAD_OPS operations or LOAD_SECONDS, whichever ends first; LOAD_WORKERS
 * concurrent clients): browser logins, password-grant logins, refreshes (some of them doubled, as
 * two tabs would), and userinfo calls, while the connectors' upstream keeps failing (refused,
 * timing out) and recovering. Asserted: every request is answered within REQUEST_TIMEOUT_MS; no
 * 5xx except the documented ones (503 temporarily_unavailable from the password grant, and the
 * 502 "unavailable" page of a browser login, both only while the upstream is failing); no
 * invalid_grant for a refresh while the upstream is healthy; and no refresh token handed out is
 * lost: after the upstream recovers, the latest token of every session refreshes. Counts are printed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../lib/connector.js';
import { connectorModules } from '../../strategies/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { FakeUpstream, flakyModules, type UpstreamMode } from './flaky-connector.js';
import { describeReport, runLoad } from './load-driver.js';

const OPS = Number(process.env.LOAD_OPS ?? 3000);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 20);
const WORKERS = Number(process.env.LOAD_WORKERS ?? 24);

const upstream = new FakeUpstream();
let b: TestBroker;

beforeAll(async () => {
  const flaky = flakyModules(upstream);
  const registry = createRegistry([...connectorModules.filter((m) => !flaky.some((f) => f.type === m.type)), ...flaky]);
  b = await startBroker(
    {
      connectors: [
        { type: 'mockCallback', id: 'cb', name: 'Callback' },
        { type: 'mockPassword', id: 'pw', name: 'Password', config: { username: 'kilgore', password: 'trout' } },
      ],
      oauth2: { skipApprovalScreen: true, passwordConnector: 'pw' },
    },
    { registry },
  );
});
afterAll(() => b.close());

/** The upstream's weather: up, then failing in one of three ways, then up again. */
const PLAN: [UpstreamMode, number][] = [['up', 400], ['down', 250], ['up', 300], ['slow', 300], ['timeout', 250], ['up', 300], ['down', 150]];

describe('load while the upstream fails and recovers', () => {
  test(
    'every request answered in time, only documented 5xx, no refresh token lost',
    async () => {
      const spells: Record<UpstreamMode, number> = { up: 0, down: 0, slow: 0, timeout: 0 };
      const report = await runLoad({
        issuer: b.issuer,
        fault: { on: () => upstream.mode === 'down' || upstream.mode === 'timeout', failures: () => upstream.failures },
        documented: (o) => (o.path === '/token' && o.status === 503 && o.body.error === 'temporarily_unavailable') || (o.path === '/callback' && o.status === 502),
        ops: OPS,
        seconds: SECONDS,
        workers: WORKERS,
        requestTimeoutMs: 10_000,
        weather: async (step) => {
          const [mode, ms] = PLAN[step % PLAN.length]!;
          upstream.mode = mode;
          spells[mode]++;
          await new Promise((r) => setTimeout(r, ms));
        },
        clear: () => {
          upstream.mode = 'up';
        },
      });
      console.log(describeReport('load', report, [`upstream spells ${JSON.stringify(spells)}, ${upstream.calls} upstream calls, ${upstream.failures} failed`]));
      expect(report.sessions).toBeGreaterThan(0);
      expect(upstream.failures).toBeGreaterThan(0);
      expect(report.hung).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(report.lost).toEqual([]);
      expect(report.refreshes.refusedWithoutFault).toBe(0);
      expect(report.refreshes.doubledDiffering).toBe(0);
      expect(report.userinfo.refusedWithoutFault + report.userinfo.refusedInFault).toBe(0);
    },
    (SECONDS + 90) * 1000,
  );
});
