/** The `github` connector's config: Dex's keys, defaults and start-up checks. */
import { z } from 'zod';
import { nonEmpty, unsetWhenEmpty } from '../shared/config-values.js';
import { orgSchema } from '../shared/org-config.js';

export const configSchema = z
  .object({
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The callback registered at GitHub; must be the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /**
     * Legacy: the teams of this one org become groups (bare team names). As in Dex it does not
     * restrict who can log in; use `orgs` for that. Not together with `orgs`.
     */
    org: unsetWhenEmpty(z.string()),
    /** Only members of these orgs (and, where listed, teams) can log in; groups are `org:team`. */
    orgs: z.array(orgSchema).optional(),
    /** GitHub Enterprise host name (no scheme or path); the API is then `https://<host>/api/v3`. */
    hostName: nonEmpty('github.com')
      .refine((h) => !h.includes('/'), 'must be a host name, not a URL or path')
      .optional(),
    /** PEM file (or PEM text) of the CA that signed the Enterprise host's certificate. Needs `hostName`. */
    rootCA: unsetWhenEmpty(z.string()),
    /** Which team field forms group names: `name` (default), `slug`, or `both` (two groups per team). */
    teamNameField: z.enum(['name', 'slug', 'both', '']).optional(),
    /** With no `orgs`, and when the client asks for `groups`: every org and `org:team` of the user. */
    loadAllGroups: z.boolean().optional(),
    /** Use the login (handle) as the user id instead of the numeric id. Risk: logins can be renamed and reused. */
    useLoginAsID: z.boolean().optional(),
    /** Prefer a verified email in this domain (`*` matches one label, e.g. `*.example.com`). */
    preferredEmailDomain: unsetWhenEmpty(z.string().refine((d) => !d.endsWith('*'), 'glob pattern cannot end with "*"')),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.org !== undefined && c.orgs !== undefined && c.orgs.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['org'], message: "cannot use both 'org' and 'orgs'" });
    }
    if (c.rootCA !== undefined && c.hostName === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rootCA'], message: 'needs hostName (a root CA is only for GitHub Enterprise)' });
    }
  });

export type GitHubConfig = z.infer<typeof configSchema>;

/** Where the connector talks to: github.com, an Enterprise host, or (in tests) a fake. */
export interface GitHubEndpoints {
  authorizationURL: string;
  tokenURL: string;
  /** REST API base, without a trailing slash. */
  apiURL: string;
}

export function endpointsFor(config: GitHubConfig): GitHubEndpoints {
  if (config.hostName === undefined) {
    return {
      authorizationURL: 'https://github.com/login/oauth/authorize',
      tokenURL: 'https://github.com/login/oauth/access_token',
      apiURL: 'https://api.github.com',
    };
  }
  const base = `https://${config.hostName}`;
  return {
    authorizationURL: `${base}/login/oauth/authorize`,
    tokenURL: `${base}/login/oauth/access_token`,
    apiURL: `${base}/api/v3`,
  };
}
