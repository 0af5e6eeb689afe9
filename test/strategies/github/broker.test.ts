/**
 * github through the broker, end to end with openid-client as the relying party: the ID token
 * (Dex's sub, verified email, org:team groups, preferred_username), refresh, a refused user's
 * 403 page, a revoked upstream token ending in invalid_grant, and passport-github2 handed over.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { Strategy as PassportGitHub2, type Profile } from 'passport-github2';
import pino from 'pino';
import { createBroker } from '../../../lib/broker.js';
import { createRegistry } from '../../../lib/connector.js';
import { ConfigError } from '../../../lib/errors.js';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { createGitHubModule } from '../../../strategies/github/index.js';
import { CLIENT_ID, CLIENT_SECRET, GitHubFake } from '../../fakes/github/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { discover, login, startLogin } from '../../helpers/rp.js';
import { expectForgedStateRefused } from '../passport-handover-app.js';

const fake = new GitHubFake();
let broker: TestBroker;
let passportBroker: TestBroker;

const connector = (id: string) => ({
  type: 'github',
  id,
  name: 'GitHub',
  config: { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, orgs: [{ name: 'acme' }] },
});

beforeAll(async () => {
  await fake.listen();
  const base = { name: 'Alice Example', email: null, teams: [{ org: 'acme', name: 'Core', slug: 'core' }] };
  fake.add({ ...base, id: 501, login: 'alice', orgs: ['acme'], emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: null }] });
  fake.add({ ...base, id: 502, login: 'bob', orgs: ['elsewhere'], emails: [{ email: 'bob@example.com', verified: true, primary: true, visibility: null }] });
  const registry = createRegistry([createGitHubModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
  broker = await startBroker({ connectors: [connector('github')] }, { registry });
  const passportGitHub2 = new PassportGitHub2(
    fake.passportGitHub2Options('http://placeholder/callback'),
    (accessToken: string, refreshToken: string, profile: Profile, done: (err: Error | null, user?: Express.User) => void) =>
      done(null, { accessToken, refreshToken, profile }),
  );
  passportBroker = await startBroker({ connectors: [connector('gh2')] }, { registry, passportStrategies: { gh2: passportGitHub2 } });
  // A Passport strategy handed to the broker comes back on `<issuer>/callback/<connector id>`.
  (passportGitHub2 as unknown as { _callbackURL: string })._callbackURL = `${passportBroker.issuer}/callback/gh2`;
});

afterAll(async () => {
  await broker?.close();
  await passportBroker?.close();
  await fake.close();
});

describe('an existing passport-github2 strategy without state: true', () => {
  test('is refused at start-up, naming passportStrategies.<id>: its callback would accept any code (login CSRF)', async () => {
    const registry = createRegistry([createGitHubModule({ endpoints: fake.endpoints(), timeoutMs: 5000 })]);
    const noState = new PassportGitHub2({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: 'http://placeholder/callback' }, () => {});
    const config = { issuer: 'http://127.0.0.1:5556/dex', storage: { type: 'memory' }, staticClients: [], connectors: [connector('gh2')] };
    const refusal = createBroker(config, { connectors: registry, passportStrategies: { gh2: noState }, logger: pino({ level: 'silent' }) });
    await expect(refusal).rejects.toThrow(ConfigError);
    await expect(refusal).rejects.toThrow(/passportStrategies\.gh2: this OAuth 2\.0 strategy checks no state/);
  });
});

describe('github through the broker', () => {
  test("mints Dex's sub, verified email, org:team groups and preferred_username, with a refresh token", async () => {
    fake.oauth.approveAs = 'alice';
    const { claims, tokens } = await login(broker.issuer, { connectorId: 'github', scope: 'openid email profile groups offline_access federated:id' });
    expect(claims).toMatchObject({
      sub: encodeSubject('501', 'github'),
      name: 'Alice Example',
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['acme:Core'],
      federated_claims: { connector_id: 'github', user_id: '501' },
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  test('refresh re-reads GitHub: a new team shows up in the new ID token', async () => {
    fake.oauth.approveAs = 'alice';
    const { config, tokens } = await login(broker.issuer, { connectorId: 'github' });
    const alice = fake.users.get('alice')!;
    alice.teams.push({ org: 'acme', name: 'Release', slug: 'release' });
    try {
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.claims()).toMatchObject({ groups: ['acme:Core', 'acme:Release'] });
    } finally {
      alice.teams.pop();
    }
  });

  test('a revoked GitHub authorization ends the refresh with invalid_grant', async () => {
    fake.oauth.approveAs = 'alice';
    const { tokens } = await login(broker.issuer, { connectorId: 'github' });
    fake.oauth.revoke('alice');
    await expect(oidc.refreshTokenGrant(await discover(broker.issuer), tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('a user outside the required org sees a 403 page, and the client gets no code', async () => {
    fake.oauth.approveAs = 'bob';
    const result = await startLogin(broker.issuer, { connectorId: 'github' });
    expect(result.landed).toBeUndefined();
    expect(result.page?.status).toBe(403);
    expect(result.page?.body).toMatch(/not in the required organizations or teams/);
  });

  test('GitHub failing shows an error page, not a hang or a token', async () => {
    fake.oauth.approveAs = 'alice';
    fake.oauth.fail('/user', { status: 503, body: { message: 'Service Unavailable' } });
    try {
      const result = await startLogin(broker.issuer, { connectorId: 'github' });
      expect(result.landed).toBeUndefined();
      expect(result.page?.status).toBe(502);
      expect(result.page?.body).toMatch(/cannot be reached or is misconfigured/);
      // The API's URL and status stay in the log.
      expect(result.page?.body).not.toContain(new URL(fake.oauth.url).host);
      expect(result.page?.body).not.toMatch(/answered|503/);
    } finally {
      fake.oauth.clearFaults();
    }
  });
});

describe('passport-github2 handed to the broker as type github', () => {
  test('logs in with the same claims as the built-in strategy', async () => {
    fake.oauth.approveAs = 'alice';
    const { claims } = await login(passportBroker.issuer, { connectorId: 'gh2' });
    expect(claims).toMatchObject({
      sub: encodeSubject('501', 'gh2'),
      email: 'alice@example.com',
      email_verified: true,
      groups: ['acme:Core'],
      preferred_username: 'alice',
    });
  });

  test('refuses a user outside the required org', async () => {
    fake.oauth.approveAs = 'bob';
    const result = await startLogin(passportBroker.issuer, { connectorId: 'gh2' });
    expect(result.page?.status).toBe(403);
  });

  test('a callback with a forged state is refused with a page before the code is redeemed', async () => {
    fake.oauth.approveAs = 'alice';
    await expectForgedStateRefused(passportBroker.issuer, 'gh2', () => fake.oauth.counts.codeGrants);
  });
});
