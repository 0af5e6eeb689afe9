/**
 * The `linkedin` connector's config: Dex's keys, plus an issuer override for tests.
 */
import { z } from 'zod';
import { unsetWhenEmpty } from '../shared/config-values.js';

export const configSchema = z
  .object({
    clientID: z.string().min(1, 'no clientID supplied'),
    clientSecret: z.string().min(1, 'no clientSecret supplied'),
    /** The callback registered with the LinkedIn app; default the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /**
     * Where LinkedIn's OpenID configuration is; default `https://www.linkedin.com/oauth`.
     * Advanced: for tests against a fake. ID tokens must state this issuer.
     */
    issuer: z.url().optional(),
  })
  .strict();

export type LinkedInConfig = z.infer<typeof configSchema>;

export const LINKEDIN_ISSUER = 'https://www.linkedin.com/oauth';
