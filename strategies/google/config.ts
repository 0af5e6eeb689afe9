/**
 * The `google` connector's config: Dex's keys, as Dex's `connector/google` reads them, plus two
 * endpoint overrides for tests and private mirrors.
 */
import { z } from 'zod';
import { unsetWhenEmpty } from '../shared/config-values.js';

export const configSchema = z
  .object({
    clientID: z.string().min(1, 'no clientID supplied'),
    clientSecret: z.string().min(1, 'no clientSecret supplied'),
    /** The callback registered with Google; default the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /** Scopes besides `openid` (always sent). Default `profile email`. */
    scopes: z.array(z.string().min(1)).optional(),
    /**
     * Google Workspace domains allowed to log in: sent as `hd` (one domain, or `*` for several)
     * and enforced on the ID token's `hd` claim. Empty: any Google account.
     */
    hostedDomains: z.array(z.string().min(1)).optional(),
    /**
     * Required groups (group emails): a user in none is refused (403). Needs the Admin Directory
     * (`serviceAccountFilePath` and `domainToAdminEmail`); enforced on every login and refresh.
     */
    groups: z.array(z.string()).optional(),
    /** Service account key file (JSON) used to read groups from the Admin Directory API. */
    serviceAccountFilePath: unsetWhenEmpty(z.string()),
    /** Deprecated in Dex: the same as `domainToAdminEmail: {"*": adminEmail}`. */
    adminEmail: unsetWhenEmpty(z.email()),
    /**
     * Workspace domain → the super admin the service account impersonates to list groups;
     * `*` matches any domain.
     */
    domainToAdminEmail: z.record(z.string(), z.email()).optional(),
    /** Also list the groups of the user's groups, recursively. */
    fetchTransitiveGroupMembership: z.boolean().optional(),
    /** `prompt` sent when the client asked for offline access; default `consent`. */
    promptType: z.string().optional(),
    /**
     * Where Google's OpenID configuration is; default `https://accounts.google.com`. Advanced:
     * for tests against a fake and for mirrors. ID tokens must state this issuer.
     */
    issuer: z.url().optional(),
    /** Base URL of the Admin Directory API; default `https://admin.googleapis.com`. Advanced: tests. */
    adminDirectoryURL: z.url().optional(),
  })
  .strict()
  // Checked here, not only when the connector starts, so check-config reports what serve refuses.
  .superRefine((c, ctx) => {
    for (const { path, message } of directoryConfigIssues(c)) ctx.addIssue({ code: 'custom', path: [path], message });
  });

export type GoogleConfig = z.infer<typeof configSchema>;

export const GOOGLE_ISSUER = 'https://accounts.google.com';
export const ADMIN_DIRECTORY_URL = 'https://admin.googleapis.com';
export const WILDCARD_DOMAIN = '*';

/** What the Admin Directory settings lack: each key to fix and why. */
export function directoryConfigIssues(config: Pick<GoogleConfig, 'adminEmail' | 'domainToAdminEmail' | 'serviceAccountFilePath' | 'groups'>): { path: string; message: string }[] {
  const hasAdmins = Object.keys(adminEmails(config)).length > 0;
  const issues: { path: string; message: string }[] = [];
  if (config.serviceAccountFilePath && !hasAdmins) issues.push({ path: 'domainToAdminEmail', message: 'the directory service requires domainToAdminEmail' });
  if (hasAdmins && !config.serviceAccountFilePath) {
    issues.push({ path: 'serviceAccountFilePath', message: 'is required with domainToAdminEmail (application default credentials are not supported)' });
  }
  if ((config.groups ?? []).length > 0 && !hasAdmins) {
    issues.push({ path: 'groups', message: 'required groups need serviceAccountFilePath and domainToAdminEmail to be checked' });
  }
  return issues;
}

/** `domainToAdminEmail` with the deprecated `adminEmail` folded in, as Dex does. */
export function adminEmails(config: Pick<GoogleConfig, 'adminEmail' | 'domainToAdminEmail'>): Record<string, string> {
  const map = { ...config.domainToAdminEmail };
  if (config.adminEmail) map[WILDCARD_DOMAIN] = config.adminEmail;
  return map;
}
