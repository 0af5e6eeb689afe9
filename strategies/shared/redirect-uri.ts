/**
 * Start-up check shared by the OAuth 2.0 and OIDC connectors: Dex's `redirectURI` may be left
 * out (it defaults to the broker's `<issuer>/callback`) but may not name another URL, since the
 * broker only takes upstream answers there. No imports beyond `lib/errors`, so the registry can
 * run it at config time without loading a connector's implementation.
 */
import type { ConfigCheckContext } from '../../lib/connector.js';
import { ConfigError } from '../../lib/errors.js';

export function checkRedirectURI(redirectURI: string | undefined, context: Pick<ConfigCheckContext, 'callbackURL'>): void {
  if (redirectURI !== undefined && redirectURI !== context.callbackURL) {
    throw new ConfigError([{ path: 'redirectURI', message: `must be the broker's callback URL ${context.callbackURL}` }]);
  }
}

/** `checkRedirectURI` as a module's `checkConfig`, run by `loadConfig` (and so by `check-config`). */
export function checkRedirectURIConfig(config: { redirectURI?: string | undefined }, context: ConfigCheckContext): void {
  checkRedirectURI(config.redirectURI, context);
}
