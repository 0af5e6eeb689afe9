/**
 * `linkedin`: log in with LinkedIn (Sign In with LinkedIn using OpenID Connect). Capability row:
 * refresh yes, no groups, no preferred_username. An existing passport-linkedin-oauth2 strategy
 * can stand in for the connector's own (`fromPassportUser`), handing over its access token.
 */
import type { ConnectorModule } from '../../lib/connector.js';
import type { Identity } from '../../lib/identity.js';
import { configSchema, type LinkedInConfig } from './config.js';
import { identityFromPassportUser } from './passport.js';
import { onePerConfig } from '../shared/passport-user.js';
import { LinkedInStrategy } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type LinkedInConfig } from './config.js';
export { LinkedInStrategy } from './strategy.js';

/** The strategies that map handed-over passport-linkedin-oauth2 users, one per connector config. */
const strategyFor = onePerConfig((config: LinkedInConfig) => new LinkedInStrategy(config));

export const linkedin = {
  type: 'linkedin',
  configSchema,
  checkConfig: checkRedirectURIConfig,
  async create(config, context) {
    checkRedirectURI(config.redirectURI, context);
    const strategy = new LinkedInStrategy(config, context.id);
    await strategy.client.discover();
    return { strategy, refresh: (identity: Identity) => strategy.refresh(identity) };
  },
  fromPassportUser(user, config) {
    return identityFromPassportUser(user, strategyFor(config));
  },
} satisfies ConnectorModule<LinkedInConfig>;

export default linkedin;
