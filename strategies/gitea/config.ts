/** The `gitea` connector's config: Dex's keys and defaults. */
import { z } from 'zod';

const org = z
  .object({
    /** Organization name. Only its members can log in. */
    name: z.string().min(1),
    /** Teams of the org; when given, a member must be in at least one of them. */
    teams: z.array(z.string().min(1)).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Root URL of the Gitea (or Forgejo) instance. */
    baseURL: z.url().optional(),
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The callback registered at Gitea; must be the broker's `<issuer>/callback`. */
    redirectURI: z.url().optional(),
    /** Only members of these orgs (and, where listed, teams) get in. */
    orgs: z.array(org).optional(),
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
