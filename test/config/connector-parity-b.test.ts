/**
 * Connector config parity with Dex for `oidc`, `google`, `microsoft`, `linkedin` and `saml`: Dex
 * config values these connectors must read as Dex reads them, and a real login (against
 * `oidc-provider`) for each behaviour that changed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as client from 'openid-client';
import { loadConfig } from '../../lib/config/load.js';
import { parseDexYaml } from '../../lib/config/yaml.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';
import { oidc } from '../../strategies/oidc/index.js';
import type { OidcConfig } from '../../strategies/oidc/config.js';
import { goRegExp } from '../../strategies/oidc/go-regexp.js';
import { identityFromClaims } from '../../strategies/oidc/mapping.js';
import { OidcStrategy } from '../../strategies/oidc/strategy.js';
import { brokerOptions, drive, expectOutcome } from '../strategies/oidc/drive.js';
import { FakeLinkedIn } from '../fakes/linkedin/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { login } from '../helpers/rp.js';
import { answerInteractions, startOidcProvider, type RunningOidcProvider } from '../servers/oidc-provider.js';

const ISSUER = 'http://127.0.0.1:5556/dex';
const CALLBACK = `${ISSUER}/callback`;

/** Loads a Dex config with one connector; the issues, or the connector's parsed config. */
function loadConnector(type: string, config: Record<string, unknown>): { issues: string[]; config?: unknown; warnings: string[] } {
  try {
    const { settings, warnings } = loadConfig(
      { issuer: ISSUER, storage: { type: 'memory' }, connectors: [{ type, id: 'x', name: 'X', config }] },
      { connectors, env: {} },
    );
    return { issues: [], config: settings.connectors[0]!.config, warnings };
  } catch (err) {
    if (err instanceof ConfigError) return { issues: err.issues.map((i) => `${i.path}: ${i.message}`), warnings: [] };
    throw err;
  }
}

const OIDC = { issuer: 'https://op.example', clientID: 'c', clientSecret: 's', redirectURI: CALLBACK };
const withFilter = (groupsFilter: string) => ({ ...OIDC, insecureEnableGroups: true, claimModifications: { filterGroupClaims: { groupsFilter } } });

describe('oidc groupsFilter is a Go regular expression, as Dex compiles it', () => {
  test('a Dex filter with a leading (?i) flag loads and matches in any case', () => {
    const loaded = loadConnector('oidc', withFilter('(?i)^admin'));
    expect(loaded.issues).toEqual([]);
    const claims = { sub: 'u', name: 'U', email: 'u@example.org', email_verified: true, groups: ['Admins', 'ADMIN-ops', 'devs'] };
    expect(identityFromClaims(claims, loaded.config as OidcConfig, true).groups).toEqual(['Admins', 'ADMIN-ops']);
  });

  test.each([
    ['[[:upper:]]+-ops', 'ABC-ops', '[:]-ops'],
    ['\\Ateam\\z', 'team', 'teamz'],
    ['^(?P<org>acme):', 'acme:x', 'x:acme'],
    ['^\\Qa.b\\E$', 'a.b', 'axb'],
    ['^\\x{41}$', 'A', 'x{41}'],
    ['^[]a]$', ']', 'b'],
    ['(?s)^a.b$', 'a\nb', 'ab'],
  ])('%s matches %j and not %j, as in Go', (pattern, yes, no) => {
    const re = goRegExp(pattern);
    expect(re.test(yes)).toBe(true);
    expect(re.test(no)).toBe(false);
  });

  test.each([
    ['\\pL+', '\\p is not supported'],
    ['a(?i)b', 'flags are supported only at the start'],
    ['(?i:a)', 'flags are supported only at the start'],
    ['(?U)a+', 'the flag U is not supported'],
    ['[[:^alpha:]]', '[:^alpha:] is not supported'],
    ['a(?=b)', 'lookaround is not valid in Go'],
    ['(', 'Unterminated group'],
  ])('%s is refused at start-up, naming the key and the reason', (pattern, reason) => {
    const [issue] = loadConnector('oidc', withFilter(pattern)).issues;
    expect(issue).toContain('connectors[0].config.claimModifications.filterGroupClaims.groupsFilter: is not a regular expression dexpress can read as Go does');
    expect(issue).toContain(reason);
  });
});

const SAML = { ssoURL: 'https://idp.example/sso', redirectURI: CALLBACK, usernameAttr: 'name', emailAttr: 'email', insecureSkipSignatureValidation: true };
const MICROSOFT = { clientID: 'c', clientSecret: 's', redirectURI: CALLBACK };
const GOOGLE = { clientID: 'c', clientSecret: 's', redirectURI: CALLBACK };

describe('a key set to "" is not set, as Dex reads a Go string left at its zero value', () => {
  test.each([
    ['oidc', { ...OIDC, redirectURI: '', issuerAlias: '', pkceChallenge: '', providerDiscoveryOverrides: { tokenURL: '', authURL: '', jwksURL: '', userInfoURL: '', deviceAuthURL: '', endSessionURL: '' } }],
    ['google', { ...GOOGLE, redirectURI: '', serviceAccountFilePath: '', adminEmail: '' }],
    ['linkedin', { clientID: 'c', clientSecret: 's', redirectURI: '' }],
    ['microsoft', { ...MICROSOFT, redirectURI: '', clientAssertion: '', groupNameFormat: '', preferredUsernameField: '' }],
    ['saml', { ...SAML, entityIssuer: '', groupsAttr: '', groupsDelim: '', nameIDPolicyFormat: '', ca: '' }],
  ])('%s starts as with the keys left out', (type, config) => {
    const loaded = loadConnector(type, config);
    expect(loaded.issues).toEqual([]);
    const set = (value: unknown): unknown =>
      typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, set(v)])) : value;
    expect(JSON.stringify(set(loaded.config))).not.toContain('""');
  });

  test('microsoft: clientSecret "" counts as no secret', () => {
    expect(loadConnector('microsoft', { ...MICROSOFT, clientSecret: '' }).issues).toEqual(['connectors[0].config.clientSecret: clientSecret or clientAssertion is required']);
  });

  test.each([
    ['microsoft', { ...MICROSOFT, tenant: '' }, 'tenant', 'common'],
    ['microsoft', { ...MICROSOFT, apiURL: '' }, 'apiURL', 'https://login.microsoftonline.com'],
    ['microsoft', { ...MICROSOFT, graphURL: '' }, 'graphURL', 'https://graph.microsoft.com'],
    ['saml', { ...SAML, ssoIssuer: '' }, 'ssoIssuer', 'no Issuer check'],
  ])('%s %j, whose Dex default widens whom the broker trusts, is refused saying what Dex would do', (type, config, key, dexDefault) => {
    const [issue] = loadConnector(type, config).issues;
    expect(issue).toContain(`connectors[0].config.${key}: is empty; Dex reads "" as not set (${dexDefault}`);
  });
});

describe('values Dex validates at start-up are refused at start-up here too', () => {
  test.each([
    ['microsoft', { ...MICROSOFT, groupNameFormat: 'displayName' }, 'groupNameFormat'],
    ['saml', { ...SAML, nameIDPolicyFormat: 'email' }, 'nameIDPolicyFormat'],
    ['saml', { ...SAML, insecureSkipSignatureValidation: false }, 'ca'],
    ['oidc', { ...OIDC, hostedDomains: ['example.com'] }, 'hostedDomains'],
  ])('%s %j', (type, config, key) => {
    expect(loadConnector(type, config).issues).toEqual([expect.stringMatching(new RegExp(`^connectors\\[0\\]\\.config\\.${key}: `))]);
  });

  test("saml nameIDPolicyFormat takes a format's last part, as Dex", () => {
    expect(loadConnector('saml', { ...SAML, nameIDPolicyFormat: 'emailAddress' }).issues).toEqual([]);
  });
});

describe('google Admin Directory settings are checked with the config, so check-config reports what serve refuses', () => {
  test.each([
    [{ groups: ['eng@example.com'] }, 'groups: required groups need serviceAccountFilePath and domainToAdminEmail'],
    [{ serviceAccountFilePath: '/etc/sa.json' }, 'domainToAdminEmail: the directory service requires domainToAdminEmail'],
    [{ adminEmail: 'admin@example.com' }, 'serviceAccountFilePath: is required with domainToAdminEmail'],
  ])('%j', (extra, issue) => {
    expect(loadConnector('google', { ...GOOGLE, ...extra }).issues).toEqual([expect.stringContaining(`connectors[0].config.${issue}`)]);
  });

  test('a complete setting loads (the key file is read when the connector starts)', () => {
    const config = { ...GOOGLE, groups: ['eng@example.com'], serviceAccountFilePath: '/etc/sa.json', domainToAdminEmail: { '*': 'admin@example.com' } };
    expect(loadConnector('google', config).issues).toEqual([]);
  });
});

describe('a real login', () => {
  let op: RunningOidcProvider;
  let broker: TestBroker;
  /** A provider whose token endpoint takes the client secret only in the form (as LinkedIn's, or Okta's). */
  let postOnly: FakeLinkedIn;

  beforeAll(async () => {
    op = await startOidcProvider({
      users: { alice: { name: 'Alice', email: 'alice@example.org', email_verified: true, groups: ['Admins', 'devs'] } },
      redirectURIs: ['http://127.0.0.1/dex/callback'],
    });
    postOnly = new FakeLinkedIn({ programmaticRefresh: true });
    const postOnlyURL = await postOnly.listen();
    postOnly.users.set('rosa', { sub: 'rosa-1', name: 'Rosa Parks', email: 'rosa@example.org', email_verified: true });
    postOnly.approveAs = 'rosa';
    const upstream = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret, scopes: ['profile', 'email', 'groups'] };
    broker = await startBroker({
      connectors: [
        {
          type: 'oidc',
          id: 'filtered',
          name: 'Filtered',
          config: { ...upstream, insecureEnableGroups: true, claimModifications: { filterGroupClaims: { groupsFilter: '(?i)^ADMIN' } } },
        },
        {
          type: 'oidc',
          id: 'blanks',
          name: 'Blanks',
          config: { ...upstream, redirectURI: '', issuerAlias: '', pkceChallenge: '', providerDiscoveryOverrides: { tokenURL: '', jwksURL: '' } },
        },
        {
          type: 'oidc',
          id: 'post-only',
          name: 'Post only',
          config: { issuer: `${postOnlyURL}/oauth`, clientID: postOnly.options.clientID, clientSecret: postOnly.options.clientSecret },
        },
        {
          type: 'oidc',
          id: 'post-only-false',
          name: 'Post only, basicAuthUnsupported false',
          config: { issuer: `${postOnlyURL}/oauth`, clientID: postOnly.options.clientID, clientSecret: postOnly.options.clientSecret, basicAuthUnsupported: false },
        },
      ],
    });
  });

  afterAll(async () => {
    await broker?.close();
    await op?.close();
    await postOnly?.close();
  });

  test('a rootCAs entry that is not PEM is named by its place in the file (an empty entry before it is skipped, as Dex does)', async () => {
    const config = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret, rootCAs: ['', 'not a certificate'] };
    await expect(startBroker({ connectors: [{ type: 'oidc', id: 'cas', name: 'CAs', config }] })).rejects.toMatchObject({
      issues: [{ path: 'connectors[0].config.rootCAs[1]', message: expect.stringContaining('is not in PEM format') }],
    });
  });

  test('providerDiscoveryOverrides.endSessionURL, which the broker does not use, is a warning at start-up', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const context = { id: 'up', name: 'Up', issuer: ISSUER, callbackURL: CALLBACK, logger };
    const upstream = { issuer: op.issuer, clientID: op.clientID, clientSecret: op.clientSecret };
    await oidc.create(oidc.configSchema.parse(upstream), context);
    expect(warnings).toEqual([]);
    await oidc.create(oidc.configSchema.parse({ ...upstream, providerDiscoveryOverrides: { endSessionURL: `${op.issuer}/session/end` } }), context);
    expect(warnings).toContainEqual(expect.stringMatching(/^providerDiscoveryOverrides.endSessionURL is ignored/));
  });

  test('a provider that takes the client secret only in the form logs in and refreshes without basicAuthUnsupported, as Dex auto-detects', async () => {
    const { config, tokens, claims } = await login(broker.issuer, { connectorId: 'post-only' });
    expect(claims.email).toBe('rosa@example.org');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.id_token).toEqual(expect.any(String));
  });

  test('basicAuthUnsupported: false still falls back to the form, as Dex (it only turns off the okta.com rule)', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'post-only-false' });
    expect(claims.email).toBe('rosa@example.org');
  });

  test('an oidc connector with redirectURI, issuerAlias, pkceChallenge and overrides set to "" logs in with the defaults', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'blanks', onPage: answerInteractions(op.issuer, 'alice') });
    expect(claims.email).toBe('alice@example.org');
  });

  test('promptType as Dex reads it from YAML: null or absent is consent, "" sends none, and only for offline access', async () => {
    const promptFor = async (yamlValue: string | undefined, offlineAccess: boolean) => {
      const line = yamlValue === undefined ? '' : `    promptType:${yamlValue}\n`;
      const yaml = `issuer: ${ISSUER}\nstorage: { type: memory }\nconnectors:\n- type: oidc\n  id: up\n  name: Up\n  config:\n    issuer: ${op.issuer}\n    clientID: ${op.clientID}\n    clientSecret: ${op.clientSecret}\n${line}`;
      const config = loadConfig(parseDexYaml(yaml), { connectors, env: {} }).settings.connectors[0]!.config as OidcConfig;
      const redirect = await drive(new OidcStrategy(config, 'up'), { query: {} }, brokerOptions(CALLBACK, { offlineAccess }));
      return new URL(expectOutcome(redirect, 'redirect').url).searchParams.get('prompt');
    };
    expect(await promptFor(undefined, true)).toBe('consent');
    expect(await promptFor('', true)).toBe('consent');
    expect(await promptFor(' ""', true)).toBeNull();
    expect(await promptFor(' login', true)).toBe('login');
    expect(await promptFor(' login', false)).toBeNull();
  });

  test('groupsFilter (?i)^ADMIN keeps the upstream group "Admins"', async () => {
    const { claims } = await login(broker.issuer, { connectorId: 'filtered', onPage: answerInteractions(op.issuer, 'alice') });
    expect(claims.groups).toEqual(['Admins']);
  });
});
