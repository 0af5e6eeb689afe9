/**
 * `gitea`: log in with Gitea or Forgejo; orgs and teams restrict who gets in. Capability row:
 * refresh yes, groups NO (the broker never issues a groups claim for gitea), preferred_username yes.
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { configSchema, type GiteaConfig } from './config.js';
import { GiteaStrategy, type GiteaStrategyOptions } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type GiteaConfig } from './config.js';
export { GiteaStrategy, type GiteaStrategyOptions } from './strategy.js';

/** Options that are not Dex config (call timeouts, a custom fetch). */
export type GiteaModuleOptions = Omit<GiteaStrategyOptions, 'name' | 'callbackURL'>;

export function createGiteaModule(options: GiteaModuleOptions = {}) {
  return {
    type: 'gitea',
    configSchema,
    checkConfig: checkRedirectURIConfig,
    create(config, context) {
      checkRedirectURI(config.redirectURI, context);
      const strategy = new GiteaStrategy(config, { ...options, name: context.id, callbackURL: context.callbackURL });
      return { strategy, refresh: (identity, scopes) => strategy.refresh(identity, scopes) };
    },
  } satisfies ConnectorModule<GiteaConfig>;
}

export const gitea = createGiteaModule();
export default gitea;
