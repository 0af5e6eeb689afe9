/** The `openshift` connector's config: Dex's keys. */
import { z } from 'zod';
import { unsetWhenEmpty } from '../shared/config-values.js';

export const configSchema = z
  .object({
    /** The cluster's API server URL (discovery: `<issuer>/.well-known/oauth-authorization-server`). */
    issuer: z.url(),
    clientID: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The OAuthClient's redirect URI; must be the broker's `<issuer>/callback`. */
    redirectURI: unsetWhenEmpty(z.url()),
    /** Only members of at least one of these OpenShift groups get in. */
    groups: z.array(z.string().min(1)).optional(),
    /** Skip TLS verification of the cluster. Risk: anyone on the path can impersonate it. Named as in Dex. */
    insecureCA: z.boolean().optional(),
    /** CA of the cluster (PEM file path, base64 of PEM, or PEM), trusted in addition to the system roots. */
    rootCA: unsetWhenEmpty(z.string()),
  })
  .strict();

export type OpenShiftConfig = z.infer<typeof configSchema>;
