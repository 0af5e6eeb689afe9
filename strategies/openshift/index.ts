/**
 * `openshift`: log in with an OpenShift cluster's OAuth server; groups are the user's OpenShift
 * groups. Capability row: refresh NO, groups yes, preferred_username no.
 */
import type { ConnectorModule } from '../../lib/connector.js';
import { upstreamFetch } from '../shared/platform.js';
import { configSchema, type OpenShiftConfig } from './config.js';
import { OpenShiftStrategy, discoverOpenShift, fetchFor, type OpenShiftStrategyOptions } from './strategy.js';
import { checkRedirectURI } from '../shared/oauth2.js';
import { checkRedirectURIConfig } from '../shared/redirect-uri.js';

export { configSchema, type OpenShiftConfig } from './config.js';
export { DISCOVERY_PATH, OpenShiftStrategy, USER_PATH, discoverOpenShift, fetchFor, type OpenShiftEndpoints } from './strategy.js';

/** Options that are not Dex config (call timeouts, a custom fetch). */
export type OpenShiftModuleOptions = Omit<OpenShiftStrategyOptions, 'name' | 'callbackURL'>;

export function createOpenShiftModule(options: OpenShiftModuleOptions = {}) {
  return {
    type: 'openshift',
    configSchema,
    checkConfig: checkRedirectURIConfig,
    async create(config, context) {
      checkRedirectURI(config.redirectURI, context);
      if (config.insecureCA === true) context.logger.warn({ connector: context.id }, 'openshift: insecureCA is set, the cluster certificate is not verified');
      const base = options.fetch ?? fetchFor(config);
      const upstream = { ...options, ...(base ? { fetch: base } : {}) };
      // As Dex, discovery happens at start-up: a cluster that cannot be reached stops the start.
      const endpoints = await discoverOpenShift(config.issuer, upstreamFetch(upstream));
      const strategy = new OpenShiftStrategy(config, endpoints, { ...upstream, name: context.id, callbackURL: context.callbackURL });
      return { strategy };
    },
  } satisfies ConnectorModule<OpenShiftConfig>;
}

export const openshift = createOpenShiftModule();
export default openshift;
