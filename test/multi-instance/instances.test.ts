/**
 * Two `dexpress serve` processes on one PostgreSQL behave as one broker: a login alternates
 * between them, a code or a refresh token presented to both at once is honoured once, both
 * serve the same keys, and PostgreSQL going away is a 503 both recover from by themselves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CLIENT_ID as GITLAB_CLIENT_ID, CLIENT_SECRET as GITLAB_CLIENT_SECRET, GitLabFake } from '../fakes/gitlab/index.js';
import { TEST_CLIENT } from '../helpers/broker.js';
import { basicAuth, getPage, postForm } from '../helpers/http.js';
import { browse, login, verifyIdToken } from '../helpers/rp.js';
import { startPostgres, type Postgres } from '../servers/postgres.js';
import { startCluster, type Cluster } from './cluster.js';

let pg: Postgres;
let cluster: Cluster;

beforeAll(async () => {
  pg = await startPostgres();
  await pg.createDatabase('dexpress');
  cluster = await startCluster(pg, 'dexpress');
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await pg?.stop();
}, 60_000);

/** A code from a login through the proxy (its steps alternate between the instances). */
async function freshCode(scope = 'openid email offline_access'): Promise<string> {
  const params = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope, state: 'st', connector_id: 'mock' });
  const { landed, page } = await browse(`${cluster.issuer}/auth?${params}`, TEST_CLIENT.redirectURI);
  if (!landed) throw new Error(`login did not land: ${page?.status} ${page?.body.slice(0, 300)}`);
  return landed.searchParams.get('code')!;
}

const redeemAt = (instance: number, code: string) =>
  postForm(cluster.instances[instance]!.direct('/token'), { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI }, basicAuth());
const refreshAt = (instance: number, refreshToken: string) =>
  postForm(cluster.instances[instance]!.direct('/token'), { grant_type: 'refresh_token', refresh_token: refreshToken }, basicAuth());

describe('two instances, one database', () => {
  test('a login started on one instance finishes on the other', async () => {
    const before = cluster.served.length;
    const { claims, tokens } = await login(cluster.issuer, { connectorId: 'mock', scope: 'openid email offline_access' });
    expect(claims.email).toBe('kilgore@kilgore.trout');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const steps = cluster.served.slice(before);
    // The authorization request, the connector's redirect and the callback were not all on one instance.
    const browserSteps = steps.filter((s) => /\/(auth|callback)/.test(s.path));
    expect(browserSteps.length).toBeGreaterThanOrEqual(3);
    expect(new Set(browserSteps.map((s) => s.instance)).size).toBe(2);
  }, 30_000);

  test('a code redeemed on both instances at once yields exactly one token response', async () => {
    for (let round = 0; round < 5; round++) {
      const code = await freshCode();
      const answers = await Promise.all([redeemAt(0, code), redeemAt(1, code)]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
      expect(answers.find((a) => a.status === 400)!.body.error).toBe('invalid_grant');
    }
  }, 60_000);

  test('a refresh token presented to both at once rotates once: both get the same new token', async () => {
    let token = (await redeemAt(0, await freshCode())).body.refresh_token as string;
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([refreshAt(0, token), refreshAt(1, token)]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(a.body.refresh_token).toBe(b.body.refresh_token);
      expect(a.body.refresh_token).not.toBe(token);
      await verifyIdToken(cluster.issuer, b.body.id_token as string);
      // The one new token is the chain's current one (a second rotation would have replaced it).
      token = a.body.refresh_token as string;
    }
    expect((await refreshAt(1, token)).status).toBe(200);
  }, 30_000);

  test('both instances serve the same /keys, and tokens from either verify against it', async () => {
    const [k0, k1] = await Promise.all(cluster.instances.map(async (i) => (await fetch(i.direct('/keys'))).json()));
    expect(k0).toEqual(k1);
    const tokens = await Promise.all([redeemAt(0, await freshCode()), redeemAt(1, await freshCode())]);
    for (const t of tokens) await verifyIdToken(cluster.issuer, t.body.id_token as string);
  }, 30_000);
});

describe('PostgreSQL going away', () => {
  test('503 temporarily_unavailable while it is down, and back to work by itself when it returns', async () => {
    const { tokens } = await login(cluster.issuer, { connectorId: 'mock', scope: 'openid offline_access' });
    let refreshToken = tokens.refresh_token!;
    await pg.halt();
    try {
      for (const i of [0, 1]) {
        const started = Date.now();
        const res = await refreshAt(i, refreshToken);
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/temporarily unavailable/) });
        expect(Date.now() - started).toBeLessThan(5000);
        const health = await getPage(cluster.instances[i]!.direct('/healthz'));
        expect(health.status).toBe(503);
        const code = await redeemAt(i, 'a'.repeat(40));
        expect(code.status).toBe(503);
        const params = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid', state: 's', connector_id: 'mock' });
        const page = await getPage(`${cluster.instances[i]!.direct('/auth/mock')}?${params}`);
        expect(page.status).toBe(503);
        expect(page.body).toMatch(/temporarily unavailable/i);
      }
    } finally {
      await pg.resume();
    }
    // No restart of either instance: each recovers once PostgreSQL answers again.
    for (const i of [0, 1]) {
      const deadline = Date.now() + 20_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        status = (await getPage(cluster.instances[i]!.direct('/healthz'))).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
      const res = await refreshAt(i, refreshToken);
      expect(res.status).toBe(200);
      refreshToken = res.body.refresh_token as string;
    }
    const again = await login(cluster.issuer, { connectorId: 'mock', scope: 'openid' });
    expect(again.claims.sub).toBeDefined();
    for (const i of cluster.instances) expect(i.output()).not.toMatch(/internal error|server_error/);
  }, 90_000);
});

describe('signing key rotation across instances', () => {
  let fast: Cluster;
  beforeAll(async () => {
    await pg.createDatabase('rotation');
    fast = await startCluster(pg, 'rotation', { config: { signer: { type: 'local', config: { keysRotationPeriod: '30s' } } } });
  }, 60_000);
  afterAll(() => fast?.close(), 30_000);

  const kidsAt = async (i: number) => ((await (await fetch(fast.instances[i]!.direct('/keys'))).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

  test('the key rotates once for both instances, and both serve the same /keys', async () => {
    const [initial] = await kidsAt(0);
    expect(await kidsAt(1)).toEqual([initial]);
    // Ask both at once, repeatedly, until the rotation is seen (bounded: the period is 30 s, the
    // shortest the broker takes, as Dex).
    const deadline = Date.now() + 45_000;
    let seen: string[][] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all([kidsAt(0), kidsAt(1)]);
      if (seen[0]![0] !== initial && seen[1]![0] !== initial) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(seen[0]![0]).not.toBe(initial);
    expect(seen[0]).toEqual(seen[1]);
    // One rotation: the new signing key plus the old one kept for verification, not two new keys.
    expect(seen[0]!.length).toBeLessThanOrEqual(3);
    expect(seen[0]).toContain(initial);
    expect(new Set(seen[0]).size).toBe(seen[0]!.length);
  }, 60_000);
});

describe('an upstream that rotates its own refresh tokens (GitLab), across instances', () => {
  const gitlab = new GitLabFake();
  let forge: Cluster;
  beforeAll(async () => {
    await gitlab.listen();
    gitlab.add({ id: 42, username: 'alice', name: 'Alice Example', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z', groups: [] });
    gitlab.oauth.approveAs = 'alice';
    await pg.createDatabase('forge');
    forge = await startCluster(pg, 'forge', {
      config: { connectors: [{ type: 'gitlab', id: 'gitlab', name: 'GitLab', config: { baseURL: gitlab.oauth.url, clientID: GITLAB_CLIENT_ID, clientSecret: GITLAB_CLIENT_SECRET } }] },
    });
  }, 60_000);
  afterAll(async () => {
    await forge?.close();
    await gitlab.close();
  }, 30_000);

  test('a refresh token presented to both at once: both succeed with the same new token', async () => {
    const { tokens } = await login(forge.issuer, { connectorId: 'gitlab', scope: 'openid email offline_access' });
    let token = tokens.refresh_token!;
    const at = (i: number, t: string) => postForm(forge.instances[i]!.direct('/token'), { grant_type: 'refresh_token', refresh_token: t }, basicAuth());
    for (let round = 0; round < 3; round++) {
      const before = gitlab.oauth.counts.refreshGrants;
      const [a, b] = await Promise.all([at(0, token), at(1, token)]);
      expect([a.status, a.body.error, b.status, b.body.error]).toEqual([200, undefined, 200, undefined]);
      expect(a.body.refresh_token).toBe(b.body.refresh_token);
      // Both asked GitLab (one with a token GitLab had just rotated, and was refused); the
      // refused one answered with the winner's result instead of invalid_grant.
      expect(gitlab.oauth.counts.refreshGrants - before).toBeLessThanOrEqual(2);
      token = a.body.refresh_token as string;
    }
    // The chain holds GitLab's latest refresh token: a plain refresh still works.
    expect((await at(0, token)).status).toBe(200);
  }, 60_000);
});

describe('start-up without PostgreSQL', () => {
  test('dexpress serve exits 1 with a clear message, and a bad storage key exits 2 naming its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dexpress-nopg-'));
    try {
      const serve = (storageConfig: Record<string, unknown>) => {
        const file = join(dir, 'config.yaml');
        writeFileSync(
          file,
          JSON.stringify({
            issuer: 'http://127.0.0.1:1/dex',
            storage: { type: 'postgres', config: storageConfig },
            web: { http: '127.0.0.1:0' },
            staticClients: [{ id: TEST_CLIENT.id, secret: TEST_CLIENT.secret, redirectURIs: [TEST_CLIENT.redirectURI], name: 'Example App' }],
          }),
        );
        return spawnSync(process.execPath, ['bin/dexpress.js', 'serve', file], { encoding: 'utf8', timeout: 30_000 });
      };
      const down = serve({ host: '127.0.0.1', port: 1, user: 'dex', ssl: { mode: 'disable' }, connectionTimeout: 2 });
      expect(down.status).toBe(1);
      expect(down.stderr).toMatch(/cannot start: PostgreSQL at 127\.0\.0\.1:1\/dex is unavailable/);
      const bad = serve({ host: '127.0.0.1', ssl: { mode: 'prefer' } });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('storage.config.ssl.mode');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
