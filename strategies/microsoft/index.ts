/**
 * `microsoft`: log in with Microsoft Entra ID or a personal Microsoft account (Dex's `microsoft`
 * connector). Capability row: refresh yes, groups yes (organisation tenants), no
 * preferred_username claim. An existing passport-microsoft strategy can stand in for the
 * connector's own (`fromPassportUser`).
 */
import type { ConnectorModule } from '../../lib/connector.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { configSchema, type MicrosoftConfig } from './config.js';
import { identityFromPassportUser } from './passport.js';
import { onePerConfig } from '../shared/passport-user.js';
import { MicrosoftStrategy } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type MicrosoftConfig } from './config.js';
export { MicrosoftStrategy } from './strategy.js';

/** The strategies that map handed-over passport-microsoft users, one per connector config. */
const strategyFor = onePerConfig((config: MicrosoftConfig) => new MicrosoftStrategy(config));

export const microsoft = {
  type: 'microsoft',
  configSchema,
  checkConfig: checkRedirectURIConfig,
  create(config, context) {
    checkRedirectURI(config.redirectURI, context);
    const strategy = new MicrosoftStrategy(config, context.id, context.callbackURL);
    return { strategy, refresh: (identity: Identity, scopes: Scopes) => strategy.refresh(identity, scopes) };
  },
  fromPassportUser(user, config) {
    return identityFromPassportUser(user, config, strategyFor(config));
  },
} satisfies ConnectorModule<MicrosoftConfig>;

export default microsoft;
