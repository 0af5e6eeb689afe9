/** `/.well-known/openid-configuration`, with the fields Dex publishes. */
import type { BrokerContext } from '../context.js';

export function discoveryDocument(ctx: BrokerContext): Record<string, unknown> {
  const s = ctx.settings;
  return {
    issuer: s.issuer,
    authorization_endpoint: ctx.url('/auth'),
    token_endpoint: ctx.url('/token'),
    jwks_uri: ctx.url('/keys'),
    userinfo_endpoint: ctx.url('/userinfo'),
    end_session_endpoint: ctx.url('/logout'),
    ...(s.oauth2.grantTypes.includes('urn:ietf:params:oauth:grant-type:device_code') ? { device_authorization_endpoint: ctx.url('/device/code') } : {}),
    grant_types_supported: s.oauth2.grantTypes.filter((g) => g !== 'client_credentials'),
    response_types_supported: s.oauth2.responseTypes,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [s.signer.algorithm],
    code_challenge_methods_supported: s.oauth2.pkce.methods,
    scopes_supported: ['openid', 'email', 'groups', 'profile', 'offline_access', 'federated:id'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    claims_supported: ['iss', 'sub', 'aud', 'iat', 'exp', 'azp', 'nonce', 'at_hash', 'c_hash', 'auth_time', 'email', 'email_verified', 'locale', 'name', 'preferred_username', 'groups', 'federated_claims'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}
