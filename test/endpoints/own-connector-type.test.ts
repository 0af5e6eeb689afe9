/**
 * A connector module of a type of its own (not a row of the capability table) declares its row in
 * `capabilities` (DESIGN.md: a module is `{ type, capabilities, configSchema, create }`), and that
 * row decides refresh tokens, `groups` and `preferred_username` as the table's rows do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Capabilities } from '../../lib/capabilities.js';
import { runCli } from '../../lib/cli.js';
import { createRegistry, type AnyConnectorModule } from '../../lib/connector.js';
import { ConfigError } from '../../lib/errors.js';
import { connectorModules } from '../../strategies/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { login } from '../helpers/rp.js';

const mock = connectorModules.find((m) => m.type === 'mockCallback')!;
const ownType = (type: string, capabilities?: Capabilities): AnyConnectorModule => ({ ...mock, type, ...(capabilities ? { capabilities } : {}) });
const registry = createRegistry([
  ...connectorModules,
  ownType('acme', { refresh: true, groups: false, preferredUsername: true, status: 'alpha' }),
  ownType('acme-once', { refresh: false, groups: true, preferredUsername: false, status: 'beta' }),
  ownType('acme-undeclared'),
]);

describe('a connector type of its own', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startBroker(
      {
        connectors: [
          { type: 'acme', id: 'acme', name: 'Acme' },
          { type: 'acme-once', id: 'once', name: 'Acme once' },
        ],
      },
      { registry },
    );
  });
  afterAll(async () => {
    await b?.close();
  });

  const scope = 'openid profile groups offline_access';

  it('gets what its declared row allows: refresh and preferred_username, no groups', async () => {
    const { claims, tokens } = await login(b.issuer, { connectorId: 'acme', scope });
    expect(claims.preferred_username).toBe('kilgore');
    expect(claims).not.toHaveProperty('groups');
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('another row: groups, but no refresh token although the connector can refresh', async () => {
    const { claims, tokens } = await login(b.issuer, { connectorId: 'once', scope });
    expect(claims.groups).toEqual(['authors']);
    expect(claims).not.toHaveProperty('preferred_username');
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('a type that is neither in the table nor declares its row is a config error naming the field', async () => {
    const err = await startBroker({ connectors: [{ type: 'acme-undeclared', id: 'u', name: 'U' }] }, { registry }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'connectors[0].type', message: expect.stringContaining('declares no capabilities') }]);
  });

  it('`dexpress connectors` lists it after the table', async () => {
    const out: string[] = [];
    expect(await runCli(['connectors'], registry, { out: (l) => out.push(l), err: () => {} })).toBe(0);
    const lines = out.join('\n').split('\n');
    expect(lines.find((l) => l.startsWith('acme '))).toMatch(/^acme\s+yes\s+no\s+yes\s+alpha$/);
    expect(lines.find((l) => l.startsWith('acme-once '))).toMatch(/^acme-once\s+no\s+yes\s+no\s+beta$/);
    expect(lines.some((l) => l.startsWith('acme-undeclared'))).toBe(false);
  });
});
