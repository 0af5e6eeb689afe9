/**
 * A Kubernetes-style command-line client logging in with the device flow (RFC 8628), as
 * `kubectl oidc-login --grant-type=device-code` does: it asks the broker for a code, shows the
 * user where to enter it, polls until the user has logged in in a browser, then prints the ID
 * token's claims and the kubectl settings that would use the tokens.
 *
 *   npx dexpress serve config.yaml        # a broker whose config has the client below
 *   npx tsx examples/kubectl-device-flow.ts http://127.0.0.1:5556/dex
 *
 * The broker needs a public client `kubectl` (no secret, no redirect URI: the device flow ends
 * on the broker's own /device/callback). The same snippet works in Dex's config:
 *
 *   staticClients:
 *     - id: kubectl
 *       name: Kubernetes
 *       public: true
 *   # oauth2.grantTypes: the device grant is on by default; if you list grant types, include
 *   #   urn:ietf:params:oauth:grant-type:device_code
 *
 * and the API server trusts the broker's ID tokens with:
 *
 *   kube-apiserver --oidc-issuer-url=<issuer> --oidc-client-id=kubectl \
 *     --oidc-username-claim=email --oidc-groups-claim=groups
 */
import { pathToFileURL } from 'node:url';
import * as oidc from 'openid-client';

export interface DeviceLoginOptions {
  issuer: string;
  /** The public client id; `kubectl` by convention. */
  clientId?: string;
  scope?: string;
  /** Where the lines for the user go (the terminal by default). */
  print?: (line: string) => void;
  /** Called once the code is shown, before polling: a CLI could open a browser here. */
  onCode?: (authorization: oidc.DeviceAuthorizationResponse) => Promise<void>;
  /** Seconds between polls; the broker's `interval` (5 s) unless set. */
  pollInterval?: number;
}

export interface DeviceLoginResult {
  tokens: oidc.TokenEndpointResponse;
  claims: oidc.IDToken;
  /** The kubectl commands that configure a user with these tokens. */
  kubectl: { authProvider: string; execPlugin: string };
}

/** `kubectl config set-credentials` lines: the legacy oidc auth provider, and the exec plugin (kubelogin). */
export function kubectlSettings(issuer: string, clientId: string, tokens: oidc.TokenEndpointResponse): DeviceLoginResult['kubectl'] {
  const authProvider = [
    'kubectl config set-credentials oidc-user',
    '--auth-provider=oidc',
    `--auth-provider-arg=idp-issuer-url=${issuer}`,
    `--auth-provider-arg=client-id=${clientId}`,
    `--auth-provider-arg=id-token=${tokens.id_token ?? ''}`,
    ...(tokens.refresh_token ? [`--auth-provider-arg=refresh-token=${tokens.refresh_token}`] : []),
  ].join(' \\\n    ');
  const execPlugin = [
    'kubectl config set-credentials oidc-user',
    '--exec-api-version=client.authentication.k8s.io/v1',
    '--exec-interactive-mode=IfAvailable',
    '--exec-command=kubectl',
    '--exec-arg=oidc-login',
    '--exec-arg=get-token',
    `--exec-arg=--oidc-issuer-url=${issuer}`,
    `--exec-arg=--oidc-client-id=${clientId}`,
    '--exec-arg=--grant-type=device-code',
    '--exec-arg=--oidc-extra-scope=email',
    '--exec-arg=--oidc-extra-scope=groups',
  ].join(' \\\n    ');
  return { authProvider, execPlugin };
}

export async function deviceLogin(options: DeviceLoginOptions): Promise<DeviceLoginResult> {
  const clientId = options.clientId ?? 'kubectl';
  const print = options.print ?? ((line: string) => console.log(line));
  const issuer = new URL(options.issuer);
  // Plain HTTP only for a broker on this machine (the dev config); anything else must be HTTPS.
  const local = issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
  const config = await oidc.discovery(issuer, clientId, undefined, oidc.None(), local ? { execute: [oidc.allowInsecureRequests] } : undefined);

  const authorization = await oidc.initiateDeviceAuthorization(config, { scope: options.scope ?? 'openid email groups profile offline_access' });
  print(`To log in, open ${authorization.verification_uri} and enter the code ${authorization.user_code}`);
  if (authorization.verification_uri_complete) print(`(or open ${authorization.verification_uri_complete})`);
  print(`The code expires in ${Math.round(authorization.expires_in / 60)} minutes. Waiting for the login...`);
  await options.onCode?.(authorization);

  const tokens = await oidc.pollDeviceAuthorizationGrant(config, {
    ...authorization,
    ...(options.pollInterval !== undefined ? { interval: options.pollInterval } : {}),
  });
  const claims = tokens.claims();
  if (!claims) throw new Error('the broker returned no ID token');
  const kubectl = kubectlSettings(options.issuer, clientId, tokens);

  print('Logged in. ID token claims:');
  print(JSON.stringify(claims, null, 2));
  print('\nkubectl, with the tokens (oidc auth provider, kubectl before 1.26):');
  print(`  ${kubectl.authProvider}`);
  print('\nkubectl, with the kubelogin exec plugin (logs in with the device flow when needed):');
  print(`  ${kubectl.execPlugin}`);
  return { tokens, claims, kubectl };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const issuer = process.argv[2] ?? process.env.DEXPRESS_ISSUER ?? 'http://127.0.0.1:5556/dex';
  try {
    await deviceLogin({ issuer });
  } catch (err) {
    const e = err as { error?: string; message?: string };
    console.error(`Login failed: ${e.error ?? e.message ?? String(err)}`);
    process.exitCode = 1;
  }
}
