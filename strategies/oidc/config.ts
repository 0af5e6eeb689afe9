/**
 * The `oidc` connector's config: Dex's keys, exactly as Dex's `connector/oidc` reads them.
 */
import { z } from 'zod';
import { unsetWhenEmpty } from '../shared/config-values.js';
import { GoRegExpError, goRegExp } from './go-regexp.js';

/** A Go (RE2) regular expression, as Dex compiles it; checked here once, at start-up. */
const goRegex = z.string().superRefine((s, ctx) => {
  try {
    goRegExp(s);
  } catch (err) {
    if (!(err instanceof GoRegExpError)) throw err;
    ctx.addIssue({ code: 'custom', message: `is not a regular expression dexpress can read as Go does: ${err.message}` });
  }
});

export const configSchema = z
  .object({
    /** The provider's issuer URL; discovery is read from `<issuer>/.well-known/openid-configuration`. */
    issuer: z.url(),
    /**
     * The issuer the discovery document and ID tokens state, for providers (Azure AD, Oracle IDCS)
     * whose discovery URL differs from it. ID tokens are verified against this value.
     */
    issuerAlias: unsetWhenEmpty(z.string()),
    clientID: z.string().min(1, 'no clientID supplied'),
    clientSecret: z.string(),
    /** The callback registered upstream; default the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /**
     * Send the client secret in the form body instead of HTTP Basic auth (RFC 6749 advises
     * against it; some providers need it). Unset or `false`: HTTP Basic, and the form if the
     * provider refuses that, as Dex does; unset sends the form at once to okta.com.
     */
    basicAuthUnsupported: z.boolean().optional(),
    /** Scopes asked upstream besides `openid` (always sent). Default `profile email`. */
    scopes: z.array(z.string().min(1)).optional(),
    /** Removed in Dex: any value is an error pointing to the `google` connector. */
    hostedDomains: z
      .array(z.string())
      .max(0, 'support for hostedDomains was removed from the oidc connector; use the google connector')
      .optional(),
    /** Extra CAs for a private upstream: PEM, base64 of PEM, or a path to a PEM file each. */
    rootCAs: z.array(z.string()).optional(),
    /** Do not check the upstream's TLS certificate. Risk: anyone on the path can impersonate it. */
    insecureSkipVerify: z.boolean().optional(),
    /**
     * Treat the email as verified when the provider sends no `email_verified` claim. Risk: an
     * unverified address reaches your apps as verified.
     */
    insecureSkipEmailVerified: z.boolean().optional(),
    /** Read groups from the `groups` claim (Dex keeps this off by default). */
    insecureEnableGroups: z.boolean().optional(),
    /**
     * Only members of one of these may log in (others get a 403 page); other groups are dropped.
     * Needs `insecureEnableGroups` (a start-up error without it; Dex ignores it silently).
     */
    allowedGroups: z.array(z.string()).optional(),
    /** Sent as `acr_values`, in order of preference. */
    acrValues: z.array(z.string()).optional(),
    /** Also read claims from the userinfo endpoint (for providers with thin ID tokens). */
    getUserInfo: z.boolean().optional(),
    /** Claim used as the user id instead of `sub` (it changes every `sub` the broker mints). */
    userIDKey: z.string().optional(),
    /** Claim used as the user name; default `name`. */
    userNameKey: z.string().optional(),
    /** `prompt` sent when the client asked for offline access; default `consent`. */
    promptType: z.string().optional(),
    /** PKCE method; default: S256 if the provider advertises it (or advertises nothing), else plain. */
    pkceChallenge: unsetWhenEmpty(z.enum(['S256', 'plain'])),
    /** Prefer the `claimMapping` keys over the standard claims even when the standard ones exist. */
    overrideClaimMapping: z.boolean().optional(),
    claimMapping: z
      .object({
        /** Claim read when `preferred_username` is missing. */
        preferred_username: z.string().optional(),
        /** Claim read when `email` is missing. */
        email: z.string().optional(),
        /** Claim read when `groups` is missing. */
        groups: z.string().optional(),
      })
      .strict()
      .optional(),
    claimModifications: z
      .object({
        /** Groups built by joining claim values: `prefix`, then each claim, joined by `delimiter`. */
        newGroupFromClaims: z
          .array(
            z
              .object({
                claims: z.array(z.string()),
                delimiter: z.string().optional(),
                /** Remove the delimiter from claim values before joining. */
                clearDelimiter: z.boolean().optional(),
                prefix: z.string().optional(),
              })
              .strict(),
          )
          .optional(),
        filterGroupClaims: z
          .object({
            /** Keep only groups matching this Go regular expression (unanchored, as Go's MatchString). */
            groupsFilter: goRegex.optional(),
          })
          .strict()
          .optional(),
        modifyGroupNames: z.object({ prefix: z.string().optional(), suffix: z.string().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    /** Endpoints that replace the discovered ones (a misconfigured override is a security risk). */
    providerDiscoveryOverrides: z
      .object({
        tokenURL: unsetWhenEmpty(z.url()),
        authURL: unsetWhenEmpty(z.url()),
        jwksURL: unsetWhenEmpty(z.url()),
        userInfoURL: unsetWhenEmpty(z.url()),
        /** Accepted for Dex compatibility; the broker has no device flow upstream. */
        deviceAuthURL: unsetWhenEmpty(z.url()),
        /** Accepted for Dex compatibility, with a warning at start-up: upstream logout is not driven by the broker yet. */
        endSessionURL: unsetWhenEmpty(z.url()),
      })
      .strict()
      .optional(),
  })
  .strict()
  // Dex ignores allowedGroups without insecureEnableGroups: no groups are read, so nobody is
  // checked and everyone gets in. Here that is a start-up error.
  .refine((c) => (c.allowedGroups ?? []).length === 0 || c.insecureEnableGroups === true, {
    message: 'needs insecureEnableGroups: true (without it no groups are read and the allowedGroups check would let everyone in)',
    path: ['allowedGroups'],
  });

export type OidcConfig = z.infer<typeof configSchema>;

/** Dex's list of providers that refuse HTTP Basic client authentication. */
const brokenAuthHeaderDomains = ['okta.com', 'oktapreview.com'];

/**
 * How the client authenticates at the token endpoint, as Dex decides: `basicAuthUnsupported` when
 * set, the secret in the form for Okta, else Basic with a fallback to the form (`auto`).
 */
export function clientAuthOf(config: OidcConfig): 'basic' | 'post' | 'auto' {
  // `false` only turns off the Okta rule: Dex then auto-detects, as when the key is unset.
  if (config.basicAuthUnsupported !== undefined) return config.basicAuthUnsupported ? 'post' : 'auto';
  const host = new URL(config.issuer).host;
  return brokenAuthHeaderDomains.some((d) => host === d || host.endsWith(`.${d}`)) ? 'post' : 'auto';
}

/** `openid` plus the configured scopes (default `profile email`), as Dex asks. */
export function upstreamScopes(config: OidcConfig): string[] {
  return ['openid', ...(config.scopes && config.scopes.length > 0 ? config.scopes : ['profile', 'email'])];
}
