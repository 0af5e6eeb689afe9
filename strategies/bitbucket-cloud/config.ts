/** The `bitbucket-cloud` connector's config: Dex's keys. */
import { z } from 'zod';
import { unsetWhenEmpty } from '../shared/config-values.js';

export const configSchema = z
  .object({
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The callback registered at Bitbucket; must be the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /** Workspace slugs; when given, only members of one of them get in, and only they are returned as groups. */
    teams: z.array(z.string().min(1)).optional(),
    /** Deprecated and ignored, as in Dex: the Bitbucket 1.0 groups API it used is gone. */
    includeTeamGroups: z.boolean().optional(),
    /** Also give `workspace:owner|collaborator|member` entries. */
    getWorkspacePermissions: z.boolean().optional(),
  })
  .strict();

export type BitbucketConfig = z.infer<typeof configSchema>;

/** Where the connector talks to (tests point these at a fake). */
export interface BitbucketEndpoints {
  authorizationURL: string;
  tokenURL: string;
  /** API 2.0 base, without a trailing slash. */
  apiURL: string;
}

export const BITBUCKET_ENDPOINTS: BitbucketEndpoints = {
  authorizationURL: 'https://bitbucket.org/site/oauth2/authorize',
  tokenURL: 'https://bitbucket.org/site/oauth2/access_token',
  apiURL: 'https://api.bitbucket.org/2.0',
};
