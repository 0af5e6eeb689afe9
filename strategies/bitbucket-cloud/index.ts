/**
 * `bitbucket-cloud`: log in with Bitbucket Cloud; workspaces are groups, `teams` restricts who
 * gets in. Capability row: refresh yes, groups yes, preferred_username NO. An existing
 * passport-bitbucket-oauth2 strategy can stand in for the connector's own (`fromPassportUser`).
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { configSchema, type BitbucketConfig } from './config.js';
import { identityFromPassportUser } from './passport.js';
import { onePerConfig } from '../shared/passport-user.js';
import { BitbucketCloudStrategy, type BitbucketStrategyOptions } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { BITBUCKET_ENDPOINTS, configSchema, type BitbucketConfig, type BitbucketEndpoints } from './config.js';
export { BitbucketCloudStrategy, type BitbucketStrategyOptions } from './strategy.js';

/** Options that are not Dex config: where Bitbucket is (tests use a fake) and call timeouts. */
export type BitbucketModuleOptions = Omit<BitbucketStrategyOptions, 'name' | 'callbackURL'>;

export function createBitbucketCloudModule(options: BitbucketModuleOptions = {}) {
  const strategyFor = onePerConfig((config: BitbucketConfig) => new BitbucketCloudStrategy(config, options));
  return {
    type: 'bitbucket-cloud',
    configSchema,
    checkConfig: checkRedirectURIConfig,
    create(config, context) {
      checkRedirectURI(config.redirectURI, context);
      if (config.includeTeamGroups === true) {
        context.logger.warn({ connector: context.id }, 'bitbucket-cloud: includeTeamGroups is deprecated and has no effect (the Bitbucket 1.0 API is gone)');
      }
      const strategy = new BitbucketCloudStrategy(config, { ...options, name: context.id, callbackURL: context.callbackURL });
      return { strategy, refresh: (identity, scopes) => strategy.refresh(identity, scopes) };
    },
    fromPassportUser(user, config) {
      return identityFromPassportUser(user, strategyFor(config));
    },
  } satisfies ConnectorModule<BitbucketConfig>;
}

export const bitbucketCloud = createBitbucketCloudModule();
export default bitbucketCloud;
