/**
 * `gitlab`: log in with GitLab (gitlab.com or self-hosted); groups are GitLab group paths.
 * Capability row: refresh, groups and preferred_username. An existing passport-gitlab2 strategy
 * can stand in for the connector's own (`fromPassportUser`).
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { AccessDeniedError, ConfigError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { configSchema, type GitLabConfig } from './config.js';
import { identityFromPassportUser } from './passport.js';
import { onePerConfig } from '../shared/passport-user.js';
import { ACCESS_TOKEN_TYPE, GitLabStrategy, type GitLabStrategyOptions } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { UpstreamApiError } from '../shared/platform.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type GitLabConfig } from './config.js';
export { GitLabStrategy, type GitLabStrategyOptions } from './strategy.js';

/** Options that are not Dex config (call timeouts, a custom fetch). */
export type GitLabModuleOptions = Omit<GitLabStrategyOptions, 'name' | 'callbackURL'>;

export function createGitLabModule(options: GitLabModuleOptions = {}) {
  const strategyFor = onePerConfig((config: GitLabConfig) => new GitLabStrategy(config, options));
  return {
    type: 'gitlab',
    configSchema,
    checkConfig: checkRedirectURIConfig,
    create(config, context) {
      checkRedirectURI(config.redirectURI, context);
      if (config.rootCAData !== undefined && !Buffer.from(config.rootCAData, 'base64').toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
        throw new ConfigError([{ path: 'rootCAData', message: 'is not a base64-encoded PEM certificate bundle' }]);
      }
      const strategy = new GitLabStrategy(config, { ...options, name: context.id, callbackURL: context.callbackURL });
      return {
        strategy,
        refresh: (identity, scopes) => strategy.refresh(identity, scopes),
        tokenIdentity: (type, token) => exchangedIdentity(strategy, type, token),
      };
    },
    fromPassportUser(user, config) {
      return identityFromPassportUser(user, config, strategyFor(config));
    },
  } satisfies ConnectorModule<GitLabConfig>;
}

/**
 * Token exchange as the broker needs it: GitLab refusing the subject token (401; 403 for a token
 * without the scope the API call needs) or a token that is not an access token is a refusal
 * (`access_denied`); GitLab failing (a 5xx, unreachable) stays an `UpstreamError`, which the
 * client hears as 503 `temporarily_unavailable` and may retry.
 */
async function exchangedIdentity(strategy: GitLabStrategy, subjectTokenType: string, subjectToken: string): Promise<Identity> {
  if (subjectTokenType !== ACCESS_TOKEN_TYPE) throw new AccessDeniedError(`gitlab: token exchange takes a GitLab access token, not ${subjectTokenType}`, 400);
  try {
    return await strategy.tokenIdentity(subjectTokenType, subjectToken);
  } catch (err) {
    if (err instanceof UpstreamApiError && (err.upstreamStatus === 401 || err.upstreamStatus === 403)) {
      throw new AccessDeniedError(`gitlab: GitLab refused the subject token (${err.upstreamStatus})`, 401);
    }
    throw err;
  }
}

export const gitlab = createGitLabModule();
export default gitlab;
