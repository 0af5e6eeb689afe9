/** The `scope` parameter of grants without an authorization request (password, token exchange). */
import type { ClientSettings } from '../config/settings.js';
import type { BrokerContext } from '../context.js';
import { checkScopes } from '../auth-request.js';
import { OAuthError } from '../errors.js';

export function checkScopeParam(ctx: BrokerContext, client: ClientSettings, scope: string): string[] {
  return checkScopes(ctx, client, { scope }, (error, description) => {
    throw new OAuthError(error, description);
  });
}
