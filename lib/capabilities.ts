/**
 * The capability table (DESIGN.md): for each connector type, whether the broker may issue refresh
 * tokens, a `groups` claim and a `preferred_username` claim. It is data in one place; the token
 * code asks it (through `capabilityLookup`, which also answers for a module that brings a type of
 * its own and declares its row, `ConnectorModule.capabilities`), and `dexpress connectors` prints it.
 */
import type { ConnectorRegistry } from './connector.js';

export type Status = 'stable' | 'beta' | 'alpha' | 'test';

export interface Capabilities {
  refresh: boolean;
  groups: boolean;
  /** `true`, `false`, or `'configured'`: only when the connector config names the field. */
  preferredUsername: boolean | 'configured';
  status: Status;
}

export const capabilityTable = {
  ldap: { refresh: true, groups: true, preferredUsername: true, status: 'stable' },
  github: { refresh: true, groups: true, preferredUsername: true, status: 'stable' },
  saml: { refresh: false, groups: true, preferredUsername: false, status: 'stable' },
  gitlab: { refresh: true, groups: true, preferredUsername: true, status: 'beta' },
  oidc: { refresh: true, groups: true, preferredUsername: true, status: 'beta' },
  google: { refresh: true, groups: true, preferredUsername: true, status: 'alpha' },
  linkedin: { refresh: true, groups: false, preferredUsername: false, status: 'beta' },
  microsoft: { refresh: true, groups: true, preferredUsername: false, status: 'beta' },
  authproxy: { refresh: false, groups: false, preferredUsername: false, status: 'alpha' },
  'bitbucket-cloud': { refresh: true, groups: true, preferredUsername: false, status: 'alpha' },
  openshift: { refresh: false, groups: true, preferredUsername: false, status: 'stable' },
  'atlassian-crowd': { refresh: true, groups: true, preferredUsername: 'configured', status: 'beta' },
  gitea: { refresh: true, groups: false, preferredUsername: true, status: 'alpha' },
  keystone: { refresh: true, groups: true, preferredUsername: false, status: 'alpha' },
  mockCallback: { refresh: true, groups: true, preferredUsername: true, status: 'test' },
  mockPassword: { refresh: true, groups: true, preferredUsername: true, status: 'test' },
  local: { refresh: true, groups: true, preferredUsername: true, status: 'stable' },
} as const satisfies Record<string, Capabilities>;

export type ConnectorType = keyof typeof capabilityTable;

export const connectorTypes = Object.keys(capabilityTable) as ConnectorType[];

export function isConnectorType(type: string): type is ConnectorType {
  return Object.hasOwn(capabilityTable, type);
}

export function capabilitiesOf(type: ConnectorType): Capabilities {
  return capabilityTable[type];
}

/** The capability row of any connector type: the table's, or the one its module declares. */
export type CapabilityLookup = (type: string) => Capabilities | undefined;

/** Rows for the types of `registry`: the table's for its types, the module's `capabilities` for others. */
export function capabilityLookup(registry: ConnectorRegistry): CapabilityLookup {
  return (type) => (isConnectorType(type) ? capabilityTable[type] : registry.get(type)?.capabilities);
}

/** The table as text, one row per type, for `dexpress connectors`; then the registry's own types. */
export function formatCapabilityTable(registry?: ConnectorRegistry): string {
  const yesNo = (v: boolean | 'configured') => (v === 'configured' ? 'if configured' : v ? 'yes' : 'no');
  const own = [...(registry?.values() ?? [])].filter((m) => !isConnectorType(m.type) && m.capabilities);
  const rows = [...connectorTypes.map((t) => [t, capabilityTable[t]] as const), ...own.map((m) => [m.type, m.capabilities!] as const)].map(([t, c]) => {
    return [t, yesNo(c.refresh), yesNo(c.groups), yesNo(c.preferredUsername), c.status];
  });
  const header = ['type', 'refresh', 'groups', 'preferred_username', 'status'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
