/** Dex's config format: validation with dotted paths, $VAR expansion where Dex does it, defaults. */
import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../../lib/config/load.js';
import { parseDuration } from '../../lib/config/duration.js';
import { ConfigError } from '../../lib/errors.js';
import { connectors } from '../../strategies/index.js';

const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
const base = {
  issuer: 'http://127.0.0.1:5556/dex',
  storage: { type: 'memory' },
  staticClients: [{ id: 'app', secret: 's', redirectURIs: ['http://127.0.0.1:5555/callback'] }],
  connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
};

function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(raw, { connectors, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  test('a minimal config gets Dex defaults', () => {
    const { settings } = loadConfig(base, { connectors, env: {} });
    expect(settings.issuerPath).toBe('/dex');
    expect(settings.expiry.idTokensMs).toBe(24 * 3_600_000);
    expect(settings.signer).toEqual({ algorithm: 'RS256', rotationMs: 6 * 3_600_000 });
    expect(settings.expiry.refreshTokens.reuseIntervalMs).toBe(3000);
  });

  test('errors name the dotted path', () => {
    expect(issuesOf({ ...base, issuer: 'not a url' })).toEqual(['issuer: must be an absolute URL']);
    expect(issuesOf({ ...base, storage: { type: 'etcd' } })[0]).toMatch(/^storage\.type: must be one of/);
    expect(issuesOf({ ...base, expiry: { idTokens: 'soon' } })[0]).toMatch(/^expiry\.idTokens: must be a duration/);
    expect(issuesOf({ ...base, connectors: [...base.connectors, { type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'u' } }] })).toEqual([
      'connectors[1].config.password: is required',
    ]);
  });

  test('storage.config is checked for the storage type as its backend reads it, so check-config refuses what serve would', () => {
    expect(issuesOf({ ...base, storage: { type: 'postgres', config: { databse: 'dex', port: 99999, ssl: { mode: 'prefer' } } } }).sort()).toEqual([
      'storage.config.databse: unknown key',
      expect.stringMatching(/^storage\.config\.port: .*65535/),
      'storage.config.ssl.mode: must be one of "disable", "require", "verify-ca", "verify-full"',
    ]);
    expect(issuesOf({ ...base, storage: { type: 'postgres', config: { host: 'db:5433', database: 'dex', ssl: { mode: 'verify-full', caFile: '/ca.pem' } } } })).toEqual([]);
    expect(issuesOf({ ...base, storage: { type: 'sqlite3', config: { path: '/var/dex.db' } } })).toEqual(expect.arrayContaining([expect.stringMatching(/^storage\.config/)]));
    // Memory has no settings: a file left from sqlite3 would silently lose data on restart, so it is a warning.
    const { warnings } = loadConfig({ ...base, storage: { type: 'memory', config: { file: '/var/dex.db' } } }, { connectors });
    expect(warnings).toEqual(['storage.config (file) is ignored: storage type memory takes no settings']);
  });

  test('settings that would be silently ignored and let everyone in are start-up errors naming the field', () => {
    const oidcUp = { issuer: 'https://op.example', clientID: 'c', clientSecret: 's' };
    expect(issuesOf({ ...base, connectors: [{ type: 'oidc', id: 'up', name: 'Up', config: { ...oidcUp, allowedGroups: ['admins'] } }] })).toEqual([
      expect.stringMatching(/^connectors\[0\]\.config\.allowedGroups: needs insecureEnableGroups: true/),
    ]);
    expect(issuesOf({ ...base, connectors: [{ type: 'oidc', id: 'up', name: 'Up', config: { ...oidcUp, allowedGroups: ['admins'], insecureEnableGroups: true } }] })).toEqual([]);
    const ms = { clientID: 'c', clientSecret: 's', groups: ['On Call'] };
    for (const tenant of [undefined, 'common', 'consumers', 'organizations']) {
      const config = tenant === undefined ? ms : { ...ms, tenant };
      expect(issuesOf({ ...base, connectors: [{ type: 'microsoft', id: 'ms', name: 'MS', config }] })).toEqual([
        expect.stringMatching(/^connectors\[0\]\.config\.groups: needs an organisation tenant/),
      ]);
    }
    expect(issuesOf({ ...base, connectors: [{ type: 'microsoft', id: 'ms', name: 'MS', config: { ...ms, tenant: 'contoso.onmicrosoft.com' } }] })).toEqual([]);
  });

  test('unknown keys are reported, at any depth', () => {
    expect(issuesOf({ ...base, issuerr: 'x' })).toEqual(['issuerr: unknown key']);
    expect(issuesOf({ ...base, oauth2: { skipAprovalScreen: true } })).toEqual(['oauth2.skipAprovalScreen: unknown key']);
    expect(issuesOf({ ...base, connectors: [{ type: 'mockCallback', id: 'mock', name: 'E', config: { nope: 1 } }] })).toEqual([
      'connectors[0].config.nope: unknown key',
    ]);
  });

  test('an unknown connector type lists the valid ones', () => {
    expect(issuesOf({ ...base, connectors: [{ type: 'ldapp', id: 'l', name: 'L' }] })[0]).toMatch(/^connectors\[0\]\.type: unknown connector type "ldapp" \(valid: .*mockCallback/);
  });

  test('every problem is reported at once', () => {
    const issues = issuesOf({
      ...base,
      staticClients: [{ id: 'a', redirectURIs: ['x'] }],
      connectors: [{ type: 'mockCallback', id: 'm', name: 'M' }, { type: 'mockCallback', id: 'm', name: 'M2' }],
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'staticClients[0].secret: is required for a confidential client (or set public: true)',
        'staticClients[0].redirectURIs[0]: must be an absolute URL',
        'connectors[1].id: duplicate connector id "m"',
      ]),
    );
  });

  test('a schema error at the top level does not hide the connectors, clients and cross-field problems', () => {
    const issues = issuesOf({
      ...base,
      expiry: { idTokens: 'soon' },
      web: { http: '127.0.0.1:5556', nope: 1 },
      staticClients: [{ id: 'a', secret: 's' }, { id: 'a', secret: 's' }],
      connectors: [
        { type: 'mockCallback', id: 'm' }, // no name: a schema error of its own
        { type: 'mockPassword', id: 'pw', name: 'PW', config: { username: 'u' } },
        { type: 'mockCallback', id: 'pw', name: 'again' },
      ],
      oauth2: { passwordConnector: 'nobody' },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^expiry\.idTokens: must be a duration/),
        'web.nope: unknown key',
        'connectors[0].name: is required',
        'connectors[1].config.password: is required',
        'connectors[2].id: duplicate connector id "pw"',
        'staticClients[1].id: duplicate client id "a"',
        'oauth2.passwordConnector: no connector with id "nobody"',
      ]),
    );
    // An invalid issuer: still the other problems, without URL checks against a stand-in issuer.
    expect(issuesOf({ ...base, issuer: 'nope', connectors: [{ type: 'github', id: 'gh', name: 'GH', config: { clientID: 'c' } }] })).toEqual([
      'issuer: must be an absolute URL',
      'connectors[0].config.clientSecret: is required',
    ]);
  });

  test("a connector's redirectURI other than <issuer>/callback is a config error (so check-config reports what serve refuses)", () => {
    const gh = (redirectURI: string) => ({ ...base, connectors: [{ type: 'github', id: 'gh', name: 'GH', config: { clientID: 'c', clientSecret: 's', redirectURI } }] });
    expect(issuesOf(gh('http://127.0.0.1:5556/dex/callback/gh'))).toEqual([
      "connectors[0].config.redirectURI: must be the broker's callback URL http://127.0.0.1:5556/dex/callback",
    ]);
    expect(issuesOf(gh('http://127.0.0.1:5556/dex/callback'))).toEqual([]);
    expect(issuesOf({ ...gh('http://127.0.0.1:5556/dex/callback'), issuer: 'http://127.0.0.1:5556/dex/' })).toEqual([]);
  });

  test('a value that an unset $VAR left empty names the variable', () => {
    const raw = { ...base, connectors: [{ type: 'github', id: 'gh', name: 'GH', config: { clientID: 'c', clientSecret: '$GITHUB_CLIENT_SECRET' } }] };
    expect(issuesOf(raw)).toEqual([expect.stringMatching(/^connectors\[0\]\.config\.clientSecret: .*\(environment variable GITHUB_CLIENT_SECRET is not set\)$/)]);
    expect(issuesOf(raw, { GITHUB_CLIENT_SECRET: 'x' })).toEqual([]);
  });

  test('$VAR is expanded in connector and storage configs only; bcrypt hashes stay intact', () => {
    const { settings } = loadConfig(
      {
        ...base,
        storage: { type: 'sqlite3', config: { file: '$DB_DIR/dex.db' } },
        connectors: [{ type: 'mockPassword', id: 'pw', name: 'PW', config: { username: '${PW_USER}', password: '$PW_PASS' } }],
        enablePasswordDB: true,
        staticPasswords: [{ email: 'a@example.com', hash: HASH, username: 'a', userID: '1' }],
        frontend: { issuer: '$NOT_EXPANDED' },
      },
      { connectors, env: { DB_DIR: '/var/db', PW_USER: 'kilgore', PW_PASS: 'trout', NOT_EXPANDED: 'x' } },
    );
    expect(settings.storage.config.file).toBe('/var/db/dex.db');
    expect(settings.connectors[0]!.config).toEqual({ username: 'kilgore', password: 'trout' });
    expect(settings.passwordDB.users[0]!.hash).toBe(HASH);
    expect(settings.frontend.issuer).toBe('$NOT_EXPANDED');
  });

  test('idEnv, secretEnv and hashFromEnv', () => {
    const env = { CID: 'from-env', CSECRET: 'sec', PWHASH: HASH };
    const { settings } = loadConfig(
      {
        ...base,
        staticClients: [{ idEnv: 'CID', secretEnv: 'CSECRET', redirectURIs: [] }],
        enablePasswordDB: true,
        staticPasswords: [{ email: 'A@Example.com', hashFromEnv: 'PWHASH', username: 'a', userID: '1' }],
      },
      { connectors, env },
    );
    expect(settings.clients[0]).toMatchObject({ id: 'from-env', secret: 'sec' });
    expect(settings.passwordDB.users[0]).toMatchObject({ email: 'a@example.com', hash: HASH });
    expect(issuesOf({ ...base, staticClients: [{ idEnv: 'MISSING', secret: 'x' }] })).toEqual(['staticClients[0].id: environment variable MISSING (idEnv) is not set']);
  });

  test('a password hash that is not bcrypt is refused', () => {
    expect(issuesOf({ ...base, enablePasswordDB: true, staticPasswords: [{ email: 'a@b.c', hash: 'password', username: 'a', userID: '1' }] })).toEqual([
      'staticPasswords[0].hash: must be a bcrypt hash ($2a$..., $2b$... or $2y$...), or one in base64',
    ]);
  });

  test('a password hash whose bcrypt cost is outside Dex’s 10..16 is refused at load, naming the field', () => {
    const withHash = (hash: string) => ({ ...base, enablePasswordDB: true, staticPasswords: [{ email: 'a@b.c', hash: HASH, username: 'a', userID: '1' }, { email: 'd@e.f', hash, username: 'd', userID: '2' }] });
    expect(issuesOf(withHash(HASH.replace('$10$', '$04$')))).toEqual(['staticPasswords[1].hash: bcrypt cost 4 is outside 10..16 (12 is recommended)']);
    expect(issuesOf(withHash(HASH.replace('$10$', '$09$')))).toEqual(['staticPasswords[1].hash: bcrypt cost 9 is outside 10..16 (12 is recommended)']);
    expect(issuesOf(withHash(HASH.replace('$10$', '$17$')))).toEqual(['staticPasswords[1].hash: bcrypt cost 17 is outside 10..16 (12 is recommended)']);
    expect(issuesOf(withHash(HASH.replace('$2a$10$', '$2b$16$')))).toEqual([]);
  });

  test('signer and the older expiry.signingKeys', () => {
    expect(loadConfig({ ...base, expiry: { signingKeys: '1h' } }, { connectors }).settings.signer.rotationMs).toBe(3_600_000);
    expect(loadConfig({ ...base, signer: { type: 'local', config: { keysRotationPeriod: '2h', algorithm: 'ES256' } } }, { connectors }).settings.signer).toEqual({
      algorithm: 'ES256',
      rotationMs: 7_200_000,
    });
  });

  test('passwordConnector must name a connector', () => {
    expect(issuesOf({ ...base, oauth2: { passwordConnector: 'ldap' } })).toEqual(['oauth2.passwordConnector: no connector with id "ldap"']);
  });

  test('a logo the pages cannot load (plain http on another origin) is a warning', () => {
    const warn = (logoURL: string) => loadConfig({ ...base, frontend: { logoURL } }, { connectors }).warnings;
    expect(warn('http://cdn.example/logo.png')).toEqual([expect.stringContaining('frontend.logoURL "http://cdn.example/logo.png" will not load')]);
    expect(warn('https://cdn.example/logo.png')).toEqual([]);
    expect(warn('data:image/png;base64,AAAA')).toEqual([]);
    expect(warn('/dex/theme/logo.png')).toEqual([]);
    expect(warn('http://127.0.0.1:5556/logo.png')).toEqual([]); // the issuer's own origin
  });

  test('keys Dex has and dexpress ignores are warnings', () => {
    const { warnings } = loadConfig({ ...base, grpc: { addr: '127.0.0.1:5557' } }, { connectors });
    expect(warnings).toEqual(['grpc is not supported by dexpress and is ignored']);
    const unused = loadConfig({ ...base, web: { tlsMinVersion: '1.2' }, telemetry: { enableProfiling: true } }, { connectors }).warnings;
    expect(unused).toEqual(['web.tlsMinVersion is not supported by dexpress and is ignored', 'telemetry.enableProfiling is not supported by dexpress and is ignored']);
  });
});

test('Go durations', () => {
  expect(parseDuration('1h30m')).toBe(5_400_000);
  expect(parseDuration('300ms')).toBe(300);
  expect(parseDuration('1.5s')).toBe(1500);
  expect(parseDuration('0')).toBe(0);
  expect(() => parseDuration('10 minutes')).toThrow();
  expect(() => parseDuration('')).toThrow();
});
