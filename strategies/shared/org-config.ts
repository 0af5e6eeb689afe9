/**
 * The `orgs` entry GitHub and Gitea share in Dex's config: an organization and, optionally, the
 * teams in it that may log in. Kept apart from the connectors' code so that validating a config
 * loads zod only, not the connector (see shared/lazy-module.ts).
 */
import { z } from 'zod';

export const orgSchema = z
  .object({
    /** Organization name (login). Only its members can log in. */
    name: z.string().min(1),
    /** Teams of the org; when given, a member must be in at least one of them. */
    teams: z.array(z.string().min(1)).optional(),
  })
  .strict();
