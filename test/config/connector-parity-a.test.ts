/**
 * Connector config parity with Dex (ldap, github, gitlab, gitea, bitbucket-cloud, openshift,
 * atlassian-crowd, keystone, authproxy): Dex's keys load with Dex's meaning and defaults, read
 * the way Dex's Go structs read them, and a real login runs with what changed.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../lib/config/load.js';
import { parseDexYaml } from '../../lib/config/yaml.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';
import { bitbucketCloud } from '../../strategies/bitbucket-cloud/index.js';
import { LdapConnector } from '../../strategies/ldap/index.js';
import { GitHubStrategy } from '../../strategies/github/index.js';
import { GitLabStrategy, gitlab } from '../../strategies/gitlab/index.js';
import { fetchWithCA } from '../../strategies/shared/tls.js';
import { CLIENT_ID as GH_ID, CLIENT_SECRET as GH_SECRET, GitHubFake } from '../fakes/github/index.js';
import { CLIENT_ID as GL_ID, CLIENT_SECRET as GL_SECRET, GitLabFake } from '../fakes/gitlab/index.js';
import { driveLogin, makeTestCA, type TlsMaterial } from '../fakes/platform.js';

const HEAD = `issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

/** One connector in a Dex config file, its `config` block written as YAML under the key. */
function yamlWith(type: string, config: string): string {
  const indented = config.split('\n').map((line) => `    ${line}`).join('\n');
  return `${HEAD}connectors:\n- type: ${type}\n  id: up\n  name: Up\n  config:\n${indented}\n`;
}

/** The connector's parsed config, as the broker would create it from. */
function configOf(type: string, config: string, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const { settings } = loadConfig(parseDexYaml(yamlWith(type, config)), { connectors, env });
  return settings.connectors[0]!.config as Record<string, unknown>;
}

function issuesOf(type: string, config: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(parseDexYaml(yamlWith(type, config)), { connectors, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

const CLIENT = 'clientID: c\nclientSecret: s';

describe('"" is not set, as Dex reads a Go string (a templated value, or a $VAR left unset)', () => {
  test.each([
    ['github', `${CLIENT}\norg: ""\nrootCA: ""\npreferredEmailDomain: ""\nredirectURI: ""\nteamNameField: ""`, ['org', 'rootCA', 'preferredEmailDomain', 'redirectURI']],
    ['github', `${CLIENT}\nredirectURI: $DEX_CALLBACK`, ['redirectURI']],
    ['gitlab', `${CLIENT}\nredirectURI: ""\nrootCAData: ""`, ['redirectURI', 'rootCAData']],
    ['gitea', `${CLIENT}\nredirectURI: ""`, ['redirectURI']],
    ['bitbucket-cloud', `${CLIENT}\nredirectURI: ""`, ['redirectURI']],
    ['openshift', `issuer: https://api.cluster.example:6443\n${CLIENT}\nrootCA: ""\nredirectURI: ""`, ['rootCA', 'redirectURI']],
    ['atlassian-crowd', `baseURL: https://crowd.example/crowd\n${CLIENT}\npreferredUsernameField: ""`, ['preferredUsernameField']],
    ['authproxy', 'groupHeaderSeparator: ""', ['groupHeaderSeparator']],
  ])('%s: %j starts, the keys left unset', (type, config, unset) => {
    const parsed = configOf(type, config);
    for (const key of unset) expect(parsed[key]).toBeUndefined();
  });

  test('a GitHub login with those keys "" is a login with them left out', async () => {
    const fake = new GitHubFake();
    await fake.listen();
    try {
      fake.add({
        id: 42,
        login: 'alice',
        name: 'Alice',
        email: null,
        emails: [{ email: 'alice@example.com', verified: true, primary: true, visibility: 'private' }],
        orgs: ['acme'],
        teams: [{ org: 'acme', name: 'Platform', slug: 'platform' }],
      });
      fake.oauth.approveAs = 'alice';
      const config = configOf('github', `clientID: ${GH_ID}\nclientSecret: ${GH_SECRET}\norg: ""\nrootCA: ""\npreferredEmailDomain: ""\nredirectURI: ""`);
      const outcome = await driveLogin(new GitHubStrategy(config as never, { endpoints: fake.endpoints() }), { offlineAccess: false, groups: true });
      expect(outcome).toMatchObject({ type: 'success', user: { userId: '42', username: 'Alice', preferredUsername: 'alice', email: 'alice@example.com', emailVerified: true } });
    } finally {
      await fake.close();
    }
  });

  // Dex would fall back to the public service or the default proxy header: refused instead.
  test.each([
    ['github', `${CLIENT}\nhostName: ""`, 'connectors[0].config.hostName: is empty; Dex reads "" as not set (github.com): leave the key out for that'],
    ['gitlab', `${CLIENT}\nbaseURL: ""`, 'connectors[0].config.baseURL: is empty; Dex reads "" as not set (https://gitlab.com): leave the key out for that'],
    ['gitea', `${CLIENT}\nbaseURL: ""`, 'connectors[0].config.baseURL: is empty; Dex reads "" as not set (https://gitea.com): leave the key out for that'],
    ['authproxy', 'userHeader: ""', 'connectors[0].config.userHeader: is empty; Dex reads "" as not set (X-Remote-User): leave the key out for that'],
    ['authproxy', 'emailHeader: ""', 'connectors[0].config.emailHeader: is empty; Dex reads "" as not set (X-Remote-User-Email): leave the key out for that'],
  ])('%s: %j is refused, saying what Dex would have used', (type, config, issue) => {
    expect(issuesOf(type, config)).toEqual([issue]);
  });

  test('an Enterprise hostName from an unset variable names the variable', () => {
    expect(issuesOf('github', `${CLIENT}\nhostName: $GHE_HOST`)).toEqual([
      'connectors[0].config.hostName: is empty; Dex reads "" as not set (github.com): leave the key out for that (environment variable GHE_HOST is not set)',
    ]);
  });
});

describe("GitLab rootCAData is read as Go reads a []byte: base64, line breaks skipped", () => {
  let tls: TlsMaterial;
  let fake: GitLabFake;

  beforeAll(async () => {
    tls = makeTestCA();
    fake = new GitLabFake(tls);
    await fake.listen();
    fake.add({ id: 5, username: 'alice', name: 'Alice', email: 'alice@example.com', confirmedAt: '2024-01-01T00:00:00Z', groups: [{ id: 1, fullPath: 'ops', level: 30, direct: true }] });
    fake.oauth.approveAs = 'alice';
  });

  afterAll(async () => {
    await fake.close();
    tls.cleanup();
  });

  test('the output of `base64 ca.pem` (wrapped at 76 columns) in a block scalar trusts the CA for a real login', async () => {
    const wrapped = execFileSync('base64', [tls.caPath], { encoding: 'utf8' });
    expect(wrapped.trimEnd().split('\n').length).toBeGreaterThan(1);
    const block = wrapped.trimEnd().split('\n').map((line) => `  ${line}`).join('\n');
    const config = configOf('gitlab', `baseURL: ${fake.oauth.url}\nclientID: ${GL_ID}\nclientSecret: ${GL_SECRET}\nrootCAData: |\n${block}`);
    expect(() => gitlab.create(config as never, createContext())).not.toThrow();
    const outcome = await driveLogin(new GitLabStrategy(config as never), { offlineAccess: false, groups: true }, { fetch: fetchWithCA({ ca: tls.caPem }) });
    expect(outcome).toMatchObject({ type: 'success', user: { userId: '5', groups: ['ops'] } });
  });

  test('what is not base64 is still refused at start-up, naming the key', () => {
    expect(issuesOf('gitlab', `${CLIENT}\nrootCAData: "not base64!"`)).toEqual(['connectors[0].config.rootCAData: Invalid base64-encoded string']);
  });
});

describe("Dex's defaults and start-up refusals, checked and found right", () => {
  test('a minimal LDAP config gets Dex defaults: sub scopes, uid and mail, no groups, prompt "Username", port 636', () => {
    const config = configOf('ldap', 'host: ldap.example.org\nuserSearch:\n  baseDN: ou=people,dc=example,dc=org\n  username: uid');
    expect(config).toMatchObject({
      userSearch: { scope: 'sub', idAttr: 'uid', emailAttr: 'mail', nameAttr: '', preferredUsernameAttr: '', emailSuffix: '' },
      groupSearch: { baseDN: '', scope: 'sub' },
    });
    const connector = new LdapConnector(config as never);
    expect(connector.prompt).toBe('Username');
    expect(connector.directory.endpoint.url).toBe('ldaps://ldap.example.org:636');
  });

  test("GitHub: legacy org with an empty orgs list starts (Dex refuses only both set), with a non-empty one it is refused", () => {
    expect(issuesOf('github', `${CLIENT}\norg: acme\norgs: []`)).toEqual([]);
    expect(issuesOf('github', `${CLIENT}\norg: acme\norgs:\n- name: acme\n  teams: [core]`)).toEqual(["connectors[0].config.org: cannot use both 'org' and 'orgs'"]);
  });

  test('Bitbucket includeTeamGroups is accepted and warned about, as in Dex (the 1.0 API is gone)', () => {
    const warnings: string[] = [];
    const context = { ...createContext(), logger: { ...createContext().logger, warn: (_o: object, message: string) => warnings.push(message) } };
    bitbucketCloud.create(configOf('bitbucket-cloud', `${CLIENT}\nincludeTeamGroups: true`) as never, context);
    expect(warnings).toEqual([expect.stringContaining('includeTeamGroups is deprecated and has no effect')]);
  });
});

function createContext() {
  return {
    id: 'up',
    name: 'Up',
    issuer: 'http://127.0.0.1:5556/dex',
    callbackURL: 'http://127.0.0.1:5556/dex/callback',
    logger: { debug: () => {}, info: () => {}, warn: (_o: object, _m: string) => {}, error: () => {} },
  };
}
