/**
 * A Passport setup that already works, turned into OIDC tokens: an existing
 * `passport-openidconnect` strategy is handed to the broker as a connector of type `oidc`. The
 * broker drives the strategy, maps what it hands to `success()` with the `oidc` connector's
 * mapping (fail-closed: `email_verified` must be there), and applies the `oidc` capability row.
 *
 * The strategy's callback URL must be `<issuer>/callback/<connector id>`.
 */
// @ts-expect-error passport-openidconnect ships no type declarations
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import { createBroker, type Broker } from '../lib/index.js';
import { connectors } from '../strategies/index.js';

export interface UpstreamApp {
  /** The upstream provider's issuer, and the client registered there for this app. */
  issuer: string;
  clientID: string;
  clientSecret: string;
}

/** Your existing strategy, exactly as your Passport app had it (only the callback URL moves). */
export function existingStrategy(upstream: UpstreamApp, brokerIssuer: string, connectorId: string) {
  return new OpenIDConnectStrategy(
    {
      issuer: upstream.issuer,
      authorizationURL: `${upstream.issuer}/auth`,
      tokenURL: `${upstream.issuer}/token`,
      userInfoURL: `${upstream.issuer}/me`,
      clientID: upstream.clientID,
      clientSecret: upstream.clientSecret,
      callbackURL: `${brokerIssuer}/callback/${connectorId}`,
      scope: ['profile', 'email'],
    },
    // passport-openidconnect's nine-argument verify: hand the userinfo profile on.
    (_iss: string, profile: unknown, _ctx: unknown, _idToken: unknown, _at: string, _rt: string, _params: unknown, _p: unknown, done: (err: unknown, user?: unknown) => void) =>
      done(null, profile),
  );
}

export async function createBrokerWithExistingStrategy(brokerIssuer: string, upstream: UpstreamApp, clients: unknown[]): Promise<Broker> {
  const config = {
    issuer: brokerIssuer,
    storage: { type: 'memory' },
    oauth2: { skipApprovalScreen: true },
    staticClients: clients,
    // The connector entry gives the type (mapping and capability row) and the name on the login page.
    connectors: [{ type: 'oidc', id: 'corp', name: 'Corporate SSO', config: { issuer: upstream.issuer, clientID: upstream.clientID, clientSecret: upstream.clientSecret } }],
  };
  return createBroker(config, { connectors, passportStrategies: { corp: existingStrategy(upstream, brokerIssuer, 'corp') } });
}
