/**
 * PKCE (RFC 7636) on an authorization request: the challenge and its method, required where the
 * config or the client's kind says so, and no downgrade to `plain` for a client that used S256.
 */
import { createHash } from 'node:crypto';
import type { AuthRequest, Params } from './auth-request.js';
import type { ClientSettings } from './config/settings.js';
import type { BrokerContext } from './context.js';
import type { ResponseTypeValue } from './response-types.js';

/**
 * The request's PKCE, for the response types asked for. No code, nothing for PKCE to protect: the
 * implicit flow ignores a challenge, as Dex does. But oauth2.pkce.enforce refuses every request
 * without one, as in Dex: it is how an operator shuts off the flows that go without PKCE, the
 * implicit flow among them.
 */
export function pkceFor(ctx: BrokerContext, client: Pick<ClientSettings, 'public'>, params: Params, responseTypes: readonly ResponseTypeValue[], fail: (e: string, d: string) => never): AuthRequest['pkce'] {
  if (!responseTypes.includes('code') && ctx.settings.oauth2.pkce.enforce && !params.code_challenge) {
    fail('invalid_request', 'PKCE is required: send code_challenge.');
  }
  return responseTypes.includes('code') ? checkPkce(ctx, client, params, fail) : undefined;
}

/** `code_challenge` and `code_challenge_method`, checked; undefined when no challenge is sent and none is required. */
export function checkPkce(ctx: BrokerContext, client: Pick<ClientSettings, 'public'>, params: Params, fail: (e: string, d: string) => never): AuthRequest['pkce'] {
  const challenge = params.code_challenge;
  // An empty code_challenge_method is no method: plain when a challenge is sent (as Dex).
  const method = params.code_challenge_method || (challenge ? 'plain' : undefined);
  if (!challenge) {
    if (method) fail('invalid_request', 'code_challenge_method was sent without code_challenge.');
    if (ctx.settings.oauth2.pkce.enforce) fail('invalid_request', 'PKCE is required: send code_challenge.');
    if (client.public) fail('invalid_request', 'PKCE is required for public clients: send code_challenge (S256).');
    return undefined;
  }
  if (method !== 'S256' && method !== 'plain') fail('invalid_request', 'code_challenge_method must be S256 or plain.');
  if (!ctx.settings.oauth2.pkce.methods.includes(method)) fail('invalid_request', `code_challenge_method ${method} is not supported.`);
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) fail('invalid_request', 'code_challenge must be 43 to 128 characters of [A-Za-z0-9._~-].');
  return { challenge, method };
}

/**
 * No downgrade (issue 8): once a client has redeemed a code with S256, `plain` is refused for it,
 * so an attacker who rewrites the challenge cannot fall back to the weaker method. The mark is
 * set only by a successful redemption (`notePkceS256`), never by an authorization request:
 * anyone can send one of those, and it would switch `plain` off for the client.
 */
export async function checkPkceDowngrade(ctx: BrokerContext, clientId: string, pkce: AuthRequest['pkce'], fail: (e: string, d: string) => never): Promise<void> {
  if (pkce?.method !== 'plain') return;
  if (await ctx.storage.find('client', pkceS256Id(clientId))) {
    fail('invalid_request', 'This client uses code_challenge_method S256; plain is not accepted.');
  }
}

const pkceS256Id = (clientId: string) => `pkce-s256:${createHash('sha256').update(clientId).digest('base64url')}`;

/** Clients this process already knows to be marked, so a code exchange reads nothing more. */
const markedClients = new WeakMap<object, Set<string>>();

/** After a code redeemed with S256: marks the client (once; see `checkPkceDowngrade`). */
export async function notePkceS256(ctx: BrokerContext, clientId: string): Promise<void> {
  let marked = markedClients.get(ctx.storage);
  if (!marked) markedClients.set(ctx.storage, (marked = new Set()));
  if (marked.has(clientId)) return;
  if (!(await ctx.storage.find('client', pkceS256Id(clientId)))) await ctx.storage.upsert('client', pkceS256Id(clientId), true);
  marked.add(clientId);
}
