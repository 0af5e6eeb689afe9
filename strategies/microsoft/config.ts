/**
 * The `microsoft` connector's config: Dex's keys, as Dex's `connector/microsoft` reads them.
 */
import { z } from 'zod';
import { nonEmpty, unsetWhenEmpty } from '../shared/config-values.js';

export const configSchema = z
  .object({
    clientID: z.string().min(1, 'no clientID supplied'),
    /** The client secret; not needed with `clientAssertion`. */
    clientSecret: unsetWhenEmpty(z.string()),
    /**
     * Path of a file holding a client assertion (JWT) sent instead of a secret: Entra workload
     * identity federation, e.g. a projected Kubernetes service account token. Read on every use.
     */
    clientAssertion: unsetWhenEmpty(z.string()),
    /** The callback registered in Entra ID; default the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /**
     * Directory (tenant) id or domain; default `common` (personal and work accounts).
     * `common`, `consumers` and `organizations` are not organisation tenants: no groups there.
     */
    tenant: nonEmpty('common: personal and work accounts of every tenant').optional(),
    /** Only security groups (`getMemberGroups` with `securityEnabledOnly`). */
    onlySecurityGroups: z.boolean().optional(),
    /**
     * Required groups: a user in none of them is refused (403). Needs an organisation `tenant`
     * (a start-up error with common, consumers or organizations; Dex ignores it silently there).
     */
    groups: z.array(z.string()).optional(),
    /** Groups as display names (`name`, default) or object ids (`id`). */
    groupNameFormat: unsetWhenEmpty(z.enum(['name', 'id'])),
    /** Return only the groups listed in `groups`, not all of the user's groups. */
    useGroupsAsWhitelist: z.boolean().optional(),
    /** Lower-case the email (the user principal name). */
    emailToLowercase: z.boolean().optional(),
    /** Resolve group names 1000 ids per request (Graph's limit) instead of all at once. */
    batchGroupLookups: z.boolean().optional(),
    /**
     * Base URL of the Microsoft identity platform; default `https://login.microsoftonline.com`.
     * Advanced (sovereign clouds such as `https://login.microsoftonline.us`) and tests.
     */
    apiURL: nonEmpty('https://login.microsoftonline.com').pipe(z.url()).optional(),
    /** Base URL of Microsoft Graph; default `https://graph.microsoft.com`. Advanced and tests. */
    graphURL: nonEmpty('https://graph.microsoft.com').pipe(z.url()).optional(),
    /** `prompt` on the authorization request (`login`, `consent`, `select_account`, `none`). */
    promptType: z.string().optional(),
    /** `domain_hint` on the authorization request, to skip the account picker. */
    domainHint: z.string().optional(),
    /** Scopes instead of `user.read` (Dex adds `directory.read.all` and `offline_access` as needed). */
    scopes: z.array(z.string().min(1)).optional(),
    /** Graph field for preferred_username: `name`, `email`, `mailNickname` or `onPremisesSamAccountName`. */
    preferredUsernameField: unsetWhenEmpty(z.enum(['name', 'email', 'mailNickname', 'onPremisesSamAccountName'])),
  })
  .strict()
  .refine((c) => c.clientSecret !== undefined || c.clientAssertion !== undefined, {
    message: 'clientSecret or clientAssertion is required',
    path: ['clientSecret'],
  })
  // Dex reads no groups outside an organisation tenant, so it skips the required-groups check and
  // lets everyone in. Here that is a start-up error.
  .refine((c) => (c.groups ?? []).length === 0 || isOrgTenant(c.tenant ?? 'common'), {
    message: 'needs an organisation tenant (a directory id or domain): with tenant common, consumers or organizations no groups are read and everyone would be let in',
    path: ['groups'],
  });

export type MicrosoftConfig = z.infer<typeof configSchema>;

export const DEFAULT_API_URL = 'https://login.microsoftonline.com';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';

/** Whether `tenant` is one organisation's directory (where groups exist). */
export function isOrgTenant(tenant: string): boolean {
  return tenant !== 'common' && tenant !== 'consumers' && tenant !== 'organizations';
}
