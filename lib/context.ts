/** What every endpoint works with: settings, storage, keys, connectors, clients, logger, clock. */
import type { CapabilityLookup } from './capabilities.js';
import type { IncomingMessage } from 'node:http';
import type { Strategy } from 'passport';
import type { Logger } from 'pino';
import type { ClientRegistry } from './clients.js';
import type { Settings } from './config/settings.js';
import type { Connector } from './connector.js';
import type { Identity } from './identity.js';
import type { Clock, Storage } from './storage/index.js';
import type { StorageHealth } from './storage-health.js';
import type { KeyManager } from './tokens/keys.js';
import type { TokenMinter } from './tokens/mint.js';
import type { RefreshTokens } from './tokens/refresh.js';
import type { BrokerMetrics } from './metrics.js';
import type { ConnectorDataSealer } from './sealing.js';
import type { LoginThrottle } from './throttle.js';
import type { PageOptions } from './web/pages.js';
import type { RequestGate } from './request-gate.js';

export interface LoadedConnector {
  id: string;
  type: string;
  name: string;
  connector: Connector;
  /** Set when an existing third-party Passport strategy stands in for the connector's own. */
  foreign?: { strategy: Strategy; toIdentity(user: unknown): Identity | Promise<Identity> };
  /** `connectors[].grantTypes`; all grants when absent. */
  grantTypes?: string[];
}

export interface BrokerContext {
  settings: Settings;
  storage: Storage;
  keys: KeyManager;
  minter: TokenMinter;
  refreshTokens: RefreshTokens;
  clients: ClientRegistry;
  metrics: BrokerMetrics;
  /** Seals connectorData before it is stored (identity when no key is configured). */
  sealer: ConnectorDataSealer;
  /** Failed password logins, per user and per address. */
  throttle: LoginThrottle;
  connectors: Map<string, LoadedConnector>;
  /** The capability row of a connector type: the table's, or its module's own (`ConnectorModule.capabilities`). */
  capabilities: CapabilityLookup;
  logger: Logger;
  now: Clock;
  page: PageOptions;
  /** The client's address (Dex's `web.clientRemoteIP`: the peer, or a trusted proxy's header). */
  clientAddress(req: IncomingMessage): string;
  /** The requests being served, which `broker.close()` lets finish first; refuses new ones once it began. */
  requests: RequestGate;
  /** Whether storage takes writes, for `/healthz` (as Dex's health check: write, then delete). */
  health: StorageHealth;
  /** Absolute URL of a broker path: `url('/callback')` → `<issuer>/callback`. */
  url(path: string): string;
}
