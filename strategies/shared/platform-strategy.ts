/**
 * The login and the refresh every platform connector does the same way (GitHub, GitLab, Gitea,
 * Bitbucket Cloud). A login reads the user with the new access token and keeps the tokens. A
 * refresh takes the upstream tokens kept in `connectorData`, renews the access token with the
 * refresh token when it has expired (or always, for upstreams that rotate the refresh token on
 * every use), joining concurrent renewals of one token, then reads the user again upstream.
 * The user id stays the one the refresh token was issued for (names upstream may change).
 */
import type { Identity, Scopes } from '../../lib/identity.js';
import { OAuth2Strategy, type OAuth2Tokens } from './oauth2.js';
import { SingleFlight, currentTokens, mapRefreshErrors, parseTokenData, tokenData, tokenDataJson, type UpstreamTokenData } from './platform.js';

export abstract class PlatformStrategy extends OAuth2Strategy {
  private readonly refreshFlight = new SingleFlight<UpstreamTokenData>();
  /** The connector type, named in refresh errors. */
  protected abstract readonly connectorType: string;
  /** Renew with the refresh token on every refresh, not only once the access token expired. */
  protected readonly alwaysRenew: boolean = false;

  /** Reads the user (and groups, where asked) upstream with an access token. */
  protected abstract readUser(accessToken: string, scopes: Scopes): Promise<Identity>;

  /** A login: the user read with the new access token, the tokens kept for refresh when asked. */
  protected override async identify(tokens: OAuth2Tokens, scopes: Scopes): Promise<Identity> {
    const identity = await this.readUser(tokens.accessToken, scopes);
    if (scopes.offlineAccess) identity.connectorData = tokenDataJson(tokenData(tokens));
    return identity;
  }

  async refresh(identity: Identity, scopes: Scopes): Promise<Identity> {
    return mapRefreshErrors(this.connectorType, async () => {
      const stored = parseTokenData(identity.connectorData, this.connectorType);
      const tokens = await currentTokens(stored, (rt) => this.refreshTokens(rt), this.refreshFlight, this.alwaysRenew);
      const fresh = await this.readUser(tokens.accessToken, scopes);
      return { ...fresh, userId: identity.userId, connectorData: tokenDataJson(tokens) };
    });
  }
}
