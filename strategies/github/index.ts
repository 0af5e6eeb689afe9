/**
 * `github`: log in with GitHub or GitHub Enterprise; groups from orgs and teams (Dex's
 * `org:team`). Capability row: refresh, groups and preferred_username.
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { configSchema, type GitHubConfig } from './config.js';
import { identityFromPassportUser } from './passport.js';
import { onePerConfig } from '../shared/passport-user.js';
import { GitHubStrategy, type GitHubStrategyOptions } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, endpointsFor, type GitHubConfig, type GitHubEndpoints } from './config.js';
export { GitHubStrategy, type GitHubStrategyOptions } from './strategy.js';

/** Options that are not Dex config: where GitHub is (tests use a fake) and call timeouts. */
export type GitHubModuleOptions = Omit<GitHubStrategyOptions, 'name' | 'callbackURL'>;

export function createGitHubModule(options: GitHubModuleOptions = {}) {
  const strategyFor = onePerConfig((config: GitHubConfig) => new GitHubStrategy(config, options));
  return {
    type: 'github',
    configSchema,
    checkConfig: checkRedirectURIConfig,
    create(config, context) {
      checkRedirectURI(config.redirectURI, context);
      if (config.org !== undefined) {
        context.logger.warn({ connector: context.id }, "github: legacy field 'org' in use; switch to 'orgs'");
      }
      const strategy = new GitHubStrategy(config, { ...options, name: context.id, callbackURL: context.callbackURL });
      return { strategy, refresh: (identity, scopes) => strategy.refresh(identity, scopes) };
    },
    fromPassportUser(user, config) {
      return identityFromPassportUser(user, config, strategyFor(config));
    },
  } satisfies ConnectorModule<GitHubConfig>;
}

export const github = createGitHubModule();
export default github;
