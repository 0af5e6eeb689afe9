/**
 * The connector registry: every connector module by type. The broker (`lib/`) never imports a
 * connector; it is handed this registry (`createBroker(config, { connectors })`, and the CLI).
 * Add a connector here when its folder lands.
 */
import { createRegistry, type AnyConnectorModule } from '../lib/connector.js';
import { atlassianCrowd } from './atlassian-crowd/index.js';
import { authproxy } from './authproxy/index.js';
import { bitbucketCloud } from './bitbucket-cloud/index.js';
import { gitea } from './gitea/index.js';
import { github } from './github/index.js';
import { gitlab } from './gitlab/index.js';
import { google } from './google/index.js';
import { keystone } from './keystone/index.js';
import { ldap } from './ldap/index.js';
import { linkedin } from './linkedin/index.js';
import { mockCallback } from './mockCallback/index.js';
import { mockPassword } from './mockPassword/index.js';
import { microsoft } from './microsoft/index.js';
import { oidc } from './oidc/index.js';
import { openshift } from './openshift/index.js';
import { saml } from './saml/index.js';

export const connectorModules: readonly AnyConnectorModule[] = [mockCallback, mockPassword, authproxy, ldap, oidc, github, gitlab, gitea, bitbucketCloud, openshift, atlassianCrowd, keystone, microsoft, saml, google, linkedin];

export const connectors = createRegistry(connectorModules);

/** Base classes for writing connectors of your own. */
export { BrokerStrategy, type StrategyOutcome, type StandaloneOptions } from './shared/strategy.js';
export { OAuth2Strategy, type OAuth2ClientOptions, type OAuth2Tokens } from './shared/oauth2.js';
export { PasswordStrategy, type LoginFunction } from './shared/password.js';
