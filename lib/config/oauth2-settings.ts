/** `oauth2`: the response and grant types served, the password grant's connector, PKCE and approval. */
import { enabledResponseTypes } from '../response-types.js';
import { grantTypes, type DexConfig } from './schema.js';
import type { GrantType, Settings } from './settings.js';
import type { Issue } from './issues.js';

export function oauth2Settings(config: DexConfig, connectors: Settings['connectors'], issues: Issue[], warnings: string[]): Settings['oauth2'] {
  const oauth2 = config.oauth2 ?? {};
  // As Dex: `code` when absent; the implicit grant is advertised once a response type gives out an access token.
  const responseTypes = enabledResponseTypes(oauth2.responseTypes ?? ['code']);
  if (responseTypes.length === 0) warnings.push('oauth2.responseTypes enables no response type (token is never served alone): /auth will refuse every request');
  const implicitEnabled = (oauth2.responseTypes ?? []).some((t) => t.split(' ').includes('token'));
  const enabledGrants = oauth2.grantTypes?.filter((g): g is GrantType => {
    if (g === 'implicit') {
      if (!implicitEnabled) warnings.push('oauth2.grantTypes "implicit" is left out of discovery: no oauth2.responseTypes value gives out a token (as in Dex)');
      return implicitEnabled;
    }
    if ((grantTypes as readonly string[]).includes(g)) return true;
    warnings.push(`oauth2.grantTypes "${g}" is not a grant type dexpress or Dex knows and is ignored (Dex drops it silently)`);
    return false;
  });
  const passwordConnector = oauth2.passwordConnector;
  if (passwordConnector !== undefined) {
    const known = passwordConnector === 'local' ? config.enablePasswordDB : connectors.some((c) => c.id === passwordConnector);
    if (!known) issues.push({ path: 'oauth2.passwordConnector', message: `no connector with id "${passwordConnector}"` });
  }
  return {
    grantTypes: enabledGrants ?? [
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      ...(passwordConnector ? ['password' as const] : []),
      ...(implicitEnabled ? ['implicit' as const] : []),
    ],
    responseTypes,
    skipApprovalScreen: oauth2.skipApprovalScreen ?? false,
    alwaysShowLoginScreen: oauth2.alwaysShowLoginScreen ?? false,
    ...(passwordConnector ? { passwordConnector } : {}),
    pkce: { enforce: oauth2.pkce?.enforce ?? false, methods: oauth2.pkce?.codeChallengeMethodsSupported ?? ['S256', 'plain'] },
  };
}
