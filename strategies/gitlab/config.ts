/** The `gitlab` connector's config: Dex's keys and defaults. */
import { z } from 'zod';
import { nonEmpty, unsetWhenEmpty } from '../shared/config-values.js';

export const configSchema = z
  .object({
    /** Root URL of the GitLab instance. */
    baseURL: nonEmpty('https://gitlab.com').pipe(z.url()).optional(),
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The callback registered at GitLab; must be the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /** Only members of at least one of these groups (full paths) get in; groups are filtered to them. */
    groups: z.array(z.string().min(1)).optional(),
    /** Use the username instead of the numeric id as user id. Risk: usernames can be renamed and reused. */
    useLoginAsID: z.boolean().optional(),
    /** Also give `group:owner`, `group:maintainer` or `group:developer` entries. */
    getGroupsPermission: z.boolean().optional(),
    /** Read groups from `/api/v4/groups` so inherited memberships count too (asks for `read_api`). */
    inheritedGroups: z.boolean().optional(),
    /** Base64 of a PEM CA bundle for a self-hosted instance (Dex's `[]byte` encoding: line breaks are skipped, as `base64` wraps). */
    rootCAData: z.preprocess((v) => (typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v), unsetWhenEmpty(z.base64())),
  })
  .strict();

export type GitLabConfig = z.infer<typeof configSchema>;

export const DEFAULT_BASE_URL = 'https://gitlab.com';

export function baseURLOf(config: GitLabConfig): string {
  return (config.baseURL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
}
