/**
 * dexpress: Dex's connectors as Passport strategies, and a Dex-compatible OpenID Connect broker.
 *
 * ```ts
 * import { createBroker } from 'dexpress';
 * import { connectors } from 'dexpress/strategies';
 * const broker = await createBroker(config, { connectors });
 * app.use(broker.app);
 * ```
 */
export { createBroker, type Broker, type BrokerOptions } from './broker.js';
export { serve, type RunningServer } from './server.js';
export { proxyAgentFromEnvironment, type UpstreamTls } from './upstream-agent.js';
export { ProxyEnvironmentError, proxyFor, readProxyEnvironment, type ProxyEnvironment } from './proxy-environment.js';
export { runCli } from './cli.js';
export { loadConfig, loadConfigFile } from './config/load.js';
export type { Settings } from './config/settings.js';
export { capabilityTable, capabilitiesOf, connectorTypes, formatCapabilityTable, type Capabilities, type ConnectorType } from './capabilities.js';
export {
  createRegistry,
  isBrokerOptions,
  type AnyConnectorModule,
  type BrokerAuthenticateOptions,
  type Connector,
  type ConnectorContext,
  type ConnectorModule,
  type ConnectorRegistry,
  type LoginState,
} from './connector.js';
export type { Identity, Scopes, Claims, JsonValue } from './identity.js';
export { encodeSubject, decodeSubject } from './tokens/subject.js';
export { AccessDeniedError, BrokerMountError, ConfigError, DexpressError, OAuthError, RefreshFailedError, StorageUnavailableError, UpstreamError } from './errors.js';
export { registerStorageBackend, type Clock, type Kind, type Storage, type StorageOps, type StoredRecord, type WriteOptions } from './storage/index.js';
export { InvalidStorageKeyError, isStorableKey, withKeyRule } from './storage/records.js';
