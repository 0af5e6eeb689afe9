/**
 * `google`: log in with a Google account (Dex's `google` connector). Capability row: refresh yes,
 * groups yes (Admin Directory), preferred_username yes (Google sends none, so it stays empty).
 * An existing passport-google-oauth20 strategy can stand in for the connector's own
 * (`fromPassportUser`).
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { ConfigError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import { upstreamFetch } from '../shared/platform.js';
import { ADMIN_DIRECTORY_URL, adminEmails, configSchema, directoryConfigIssues, type GoogleConfig } from './config.js';
import { GoogleDirectory, loadServiceAccount } from './directory.js';
import { identityFromPassportUser } from './passport.js';
import { onePerConfig } from '../shared/passport-user.js';
import { GoogleStrategy } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type GoogleConfig } from './config.js';
export { GoogleStrategy } from './strategy.js';
export { GoogleDirectory, loadServiceAccount } from './directory.js';

/** The Admin Directory client the config asks for, or an error naming the key that is missing. */
export async function directoryFor(config: GoogleConfig): Promise<GoogleDirectory | undefined> {
  const issues = directoryConfigIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
  const admins = adminEmails(config);
  if (!config.serviceAccountFilePath) return undefined;
  const key = await loadServiceAccount(config.serviceAccountFilePath);
  return new GoogleDirectory(key, admins, (config.adminDirectoryURL ?? ADMIN_DIRECTORY_URL).replace(/\/$/, ''), upstreamFetch());
}

/** The strategies that map handed-over passport-google-oauth20 users, one per connector config. */
const strategyFor = onePerConfig(async (config: GoogleConfig) => new GoogleStrategy(config, await directoryFor(config)));

export const google = {
  type: 'google',
  configSchema,
  checkConfig: checkRedirectURIConfig,
  async create(config, context) {
    checkRedirectURI(config.redirectURI, context);
    const strategy = new GoogleStrategy(config, await directoryFor(config), context.id);
    await strategy.client.discover();
    return { strategy, refresh: (identity: Identity, scopes: Scopes) => strategy.refresh(identity, scopes) };
  },
  async fromPassportUser(user, config) {
    return identityFromPassportUser(user, await strategyFor(config));
  },
} satisfies ConnectorModule<GoogleConfig>;

export default google;
