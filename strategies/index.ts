/**
 * The connector registry: every connector module by type. The broker (`lib/`) never imports a
 * connector; it is handed this registry (`createBroker(config, { connectors })`, and the CLI).
 * Add a connector here when its folder lands.
 *
 * Connectors whose implementation needs libraries of their own (undici, openid-client, ldapts,
 * the XML signature libraries) are entered through `lazyModule`: only their config schema is
 * imported here, the rest when the config names one. The others are small and imported whole.
 */
import { createRegistry, type AnyConnectorModule } from '../lib/connector.js';
import { atlassianCrowd } from './atlassian-crowd/index.js';
import { authproxy } from './authproxy/index.js';
import { configSchema as bitbucketCloudConfig } from './bitbucket-cloud/config.js';
import { configSchema as giteaConfig } from './gitea/config.js';
import { configSchema as githubConfig } from './github/config.js';
import { configSchema as gitlabConfig } from './gitlab/config.js';
import { configSchema as googleConfig } from './google/config.js';
import { keystone } from './keystone/index.js';
import { configSchema as ldapConfig } from './ldap/config.js';
import { configSchema as linkedinConfig } from './linkedin/config.js';
import { configSchema as microsoftConfig } from './microsoft/config.js';
import { mockCallback } from './mockCallback/index.js';
import { mockPassword } from './mockPassword/index.js';
import { configSchema as oidcConfig } from './oidc/config.js';
import { configSchema as openshiftConfig } from './openshift/config.js';
import { configSchema as samlConfig } from './saml/config.js';
import { lazyModule } from './shared/lazy-module.js';
import { checkRedirectURIConfig } from './shared/redirect-uri.js';

export const connectorModules: readonly AnyConnectorModule[] = [
  mockCallback,
  mockPassword,
  authproxy,
  lazyModule({ type: 'ldap', configSchema: ldapConfig, mapsPassportUsers: true, load: async () => (await import('./ldap/index.js')).ldap }),
  lazyModule({ type: 'oidc', configSchema: oidcConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: true, load: async () => (await import('./oidc/index.js')).oidc }),
  lazyModule({ type: 'github', configSchema: githubConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: true, load: async () => (await import('./github/index.js')).github }),
  lazyModule({ type: 'gitlab', configSchema: gitlabConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: true, load: async () => (await import('./gitlab/index.js')).gitlab }),
  lazyModule({ type: 'gitea', configSchema: giteaConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: false, load: async () => (await import('./gitea/index.js')).gitea }),
  lazyModule({
    type: 'bitbucket-cloud',
    configSchema: bitbucketCloudConfig,
    checkConfig: checkRedirectURIConfig,
    mapsPassportUsers: true,
    load: async () => (await import('./bitbucket-cloud/index.js')).bitbucketCloud,
  }),
  lazyModule({ type: 'openshift', configSchema: openshiftConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: false, load: async () => (await import('./openshift/index.js')).openshift }),
  atlassianCrowd,
  keystone,
  lazyModule({ type: 'microsoft', configSchema: microsoftConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: true, load: async () => (await import('./microsoft/index.js')).microsoft }),
  lazyModule({ type: 'saml', configSchema: samlConfig, mapsPassportUsers: true, load: async () => (await import('./saml/index.js')).saml }),
  lazyModule({ type: 'google', configSchema: googleConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: true, load: async () => (await import('./google/index.js')).google }),
  lazyModule({ type: 'linkedin', configSchema: linkedinConfig, checkConfig: checkRedirectURIConfig, mapsPassportUsers: true, load: async () => (await import('./linkedin/index.js')).linkedin }),
];

export const connectors = createRegistry(connectorModules);

/** Base classes for writing connectors of your own. */
export { BrokerStrategy, type StrategyOutcome, type StandaloneOptions } from './shared/strategy.js';
export { OAuth2Strategy, type OAuth2ClientOptions, type OAuth2Tokens } from './shared/oauth2.js';
export { PasswordStrategy, type LoginFunction } from './shared/password.js';
