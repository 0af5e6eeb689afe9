/** `staticClients`: each entry's id and secret (or `idEnv`/`secretEnv`) and redirect URIs, checked, as client settings. */
import type { DexConfig } from './schema.js';
import type { ClientSettings } from './settings.js';
import type { Issue } from './issues.js';

export function staticClients(config: DexConfig, env: NodeJS.ProcessEnv, issuer: { issuerBase: string; issuerPath: string }, issues: Issue[]): ClientSettings[] {
  const { issuerBase, issuerPath } = issuer;
  // Dex takes `/device/callback` as its own device flow callback (server/oauth2.go); so is the
  // same under the issuer path, or the full URL. dexpress sets that callback itself and never
  // lets /auth redirect there: listed, it only counts as a registered URI (no loopback URIs for a
  // public client), as in Dex.
  const deviceCallbackURIs = ['/device/callback', `${issuerPath}/device/callback`, `${issuerBase}/device/callback`];
  const clients: ClientSettings[] = [];
  (config.staticClients ?? []).forEach((c, i) => {
    const path = `staticClients[${i}]`;
    const id = c.id ?? (c.idEnv ? env[c.idEnv] : undefined);
    if (!id) {
      issues.push({ path: `${path}.id`, message: c.idEnv ? `environment variable ${c.idEnv} (idEnv) is not set` : 'is required' });
      return;
    }
    const secret = c.secret ?? (c.secretEnv ? env[c.secretEnv] : undefined);
    if (c.secretEnv && !c.secret && !secret) issues.push({ path: `${path}.secretEnv`, message: `environment variable ${c.secretEnv} is not set` });
    if (!c.public && !secret) issues.push({ path: `${path}.secret`, message: 'is required for a confidential client (or set public: true)' });
    if (clients.some((o) => o.id === id)) issues.push({ path: `${path}.id`, message: `duplicate client id "${id}"` });
    const listsDeviceCallback = (c.redirectURIs ?? []).some((u) => deviceCallbackURIs.includes(u));
    const redirectURIs = [...new Set((c.redirectURIs ?? []).filter((u) => !deviceCallbackURIs.includes(u)))];
    (c.redirectURIs ?? []).forEach((u, j) => {
      if (!URL.canParse(u) && u !== 'urn:ietf:wg:oauth:2.0:oob' && !deviceCallbackURIs.includes(u)) {
        issues.push({ path: `${path}.redirectURIs[${j}]`, message: 'must be an absolute URL' });
      }
    });
    // Logout redirects there (a relative one was accepted, then /logout failed with a 500).
    (c.postLogoutRedirectURIs ?? []).forEach((u, j) => {
      if (!URL.canParse(u)) issues.push({ path: `${path}.postLogoutRedirectURIs[${j}]`, message: 'must be an absolute URL' });
    });
    clients.push({
      id,
      ...(secret ? { secret } : {}),
      public: c.public ?? false,
      redirectURIs,
      ...(listsDeviceCallback ? { listsDeviceCallback } : {}),
      trustedPeers: c.trustedPeers ?? [],
      name: c.name ?? id,
      ...(c.logoURL ? { logoURL: c.logoURL } : {}),
      postLogoutRedirectURIs: c.postLogoutRedirectURIs ?? [],
      // An empty list allows every connector, as Dex reads it (ConnectorAllowed).
      ...(c.allowedConnectors?.length ? { allowedConnectors: c.allowedConnectors } : {}),
    });
  });
  return clients;
}
