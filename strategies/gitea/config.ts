/** The `gitea` connector's config: Dex's keys and defaults. */
import { z } from 'zod';
import { nonEmpty, unsetWhenEmpty } from '../shared/config-values.js';
import { orgSchema } from '../shared/org-config.js';

export const configSchema = z
  .object({
    /** Root URL of the Gitea (or Forgejo) instance. */
    baseURL: nonEmpty('https://gitea.com').pipe(z.url()).optional(),
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The callback registered at Gitea; must be the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /** Only members of these orgs (and, where listed, teams) get in. */
    orgs: z.array(orgSchema).optional(),
    /** Read every org and `org:team` of the user (without `orgs`). The gitea row issues no groups claim. */
    loadAllGroups: z.boolean().optional(),
    /** Use the login instead of the numeric id as user id. Risk: logins can be renamed and reused. */
    useLoginAsID: z.boolean().optional(),
  })
  .strict();

export type GiteaConfig = z.infer<typeof configSchema>;

export function baseURLOf(config: GiteaConfig): string {
  return (config.baseURL ?? 'https://gitea.com').replace(/\/+$/, '');
}
