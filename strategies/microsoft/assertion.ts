/**
 * Client authentication with a federated client assertion (Dex's `clientAssertion`): a JWT in a
 * file (a Kubernetes service account token projected for Entra workload identity, rotated on
 * disk), sent to the token endpoint as `client_assertion` in place of a client secret. As Dex
 * does, the file is read again for every token request, so a rotated token is picked up.
 */
import { readFileSync } from 'node:fs';
import { UpstreamError } from '../../lib/errors.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Wraps `base` so that form posts to `tokenURL` carry the assertion instead of a secret. */
export function assertionFetch(assertionPath: string, tokenURL: string, base: typeof fetch): typeof fetch {
  const withAssertion = (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url !== tokenURL || typeof init?.body !== 'string') return base(input, init);
    let assertion: string;
    try {
      assertion = readFileSync(assertionPath, 'utf8').trim();
    } catch (err) {
      return Promise.reject(new UpstreamError('microsoft: the client assertion file cannot be read', { cause: err }));
    }
    const form = new URLSearchParams(init.body);
    form.delete('client_secret');
    form.set('client_assertion', assertion);
    form.set('client_assertion_type', ASSERTION_TYPE);
    return base(input, { ...init, body: form.toString() });
  };
  return withAssertion as typeof fetch;
}
