/** `connectors`: each entry's type, id and its connector's own config schema and checks. */
import type { ConnectorRegistry } from '../connector.js';
import { isConnectorType } from '../capabilities.js';
import { ConfigError } from '../errors.js';
import type { DexConfig } from './schema.js';
import type { Settings } from './settings.js';
import { issuesUnder, zodIssues, type Issue } from './issues.js';

/** The connectors whose entries are valid; `issuerValid` false skips the checks that compare URLs with the issuer. */
export function connectorEntries(
  config: DexConfig,
  registry: ConnectorRegistry,
  issuer: { issuerBase: string; issuerValid: boolean },
  issues: Issue[],
): Settings['connectors'] {
  const { issuerBase, issuerValid } = issuer;
  const connectors: Settings['connectors'] = [];
  const connectorIds = new Set<string>();
  (config.connectors ?? []).forEach((c, i) => {
    const path = `connectors[${i}]`;
    const module = registry.get(c.type);
    if (!module) {
      issues.push({ path: `${path}.type`, message: `unknown connector type "${c.type}" (valid: ${[...registry.keys()].join(', ')})` });
      return;
    }
    if (!isConnectorType(c.type) && !module.capabilities) {
      issues.push({ path: `${path}.type`, message: `connector type "${c.type}" is not in the capability table, and its module declares no capabilities` });
    }
    if (c.id === 'local' && config.enablePasswordDB) issues.push({ path: `${path}.id`, message: '"local" is the password DB\'s id' });
    if (connectorIds.has(c.id)) issues.push({ path: `${path}.id`, message: `duplicate connector id "${c.id}"` });
    connectorIds.add(c.id); // a duplicate of an entry whose own config is invalid is reported too
    const r = module.configSchema.safeParse(c.config ?? {});
    if (!r.success) {
      issues.push(...zodIssues(r.error, `${path}.config`, module.configSchema));
      return;
    }
    if (module.checkConfig && issuerValid) {
      const context = { id: c.id, issuer: config.issuer, callbackURL: `${issuerBase}/callback` };
      try {
        module.checkConfig(r.data as never, context);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        issues.push(...issuesUnder(`${path}.config`, err.issues));
        return;
      }
    }
    // An empty grantTypes list allows every grant, as Dex reads it (GrantTypeAllowed).
    connectors.push({ type: c.type, id: c.id, name: c.name, config: r.data, ...(c.grantTypes?.length ? { grantTypes: c.grantTypes } : {}) });
  });
  return connectors;
}
