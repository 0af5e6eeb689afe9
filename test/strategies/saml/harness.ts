/**
 * Drives the SAML strategy the way the broker does, without HTTP: `authenticate(req, options)` on
 * a per-request object with Passport's actions, resolved to the one outcome it ended in.
 */
import type { Request } from 'express';
import type { BrokerAuthenticateOptions, LoginState } from '../../../lib/connector.js';
import type { JsonValue } from '../../../lib/identity.js';
import type { SamlStrategy } from '../../../strategies/saml/index.js';

export type Outcome =
  | { type: 'success'; user: unknown }
  | { type: 'fail'; message: string; status: number | undefined }
  | { type: 'error'; err: unknown }
  | { type: 'handled'; status: number; headers: Record<string, string>; html: string };

export const CALLBACK = 'http://127.0.0.1:5556/dex/callback';

/** A login state held in memory, as the broker holds it with the auth request. */
export function memoryLoginState(initial: JsonValue | undefined = undefined): LoginState & { value: JsonValue | undefined } {
  const state = {
    value: initial,
    get: async () => state.value,
    set: async (v: JsonValue) => {
      state.value = v;
    },
  };
  return state;
}

export function brokerOptions(loginState: LoginState, phase: 'login' | 'callback', groups = true): BrokerAuthenticateOptions {
  return { broker: true, phase, state: 'auth-request-1', scopes: { offlineAccess: false, groups }, callbackURL: CALLBACK, loginState };
}

/** A minimal Express response that records what the strategy wrote. */
function recordingResponse(onSend: (o: Outcome) => void): unknown {
  const sent = { status: 200, headers: {} as Record<string, string> };
  const res = {
    status(code: number) {
      sent.status = code;
      return res;
    },
    set(headers: Record<string, string>) {
      Object.assign(sent.headers, headers);
      return res;
    },
    type(t: string) {
      sent.headers['Content-Type'] = t;
      return res;
    },
    send(body: string) {
      onSend({ type: 'handled', status: sent.status, headers: sent.headers, html: body });
      return res;
    },
  };
  return res;
}

export function runStrategy(
  strategy: SamlStrategy,
  request: { method: 'GET' | 'POST'; body?: Record<string, unknown> },
  options: BrokerAuthenticateOptions | Record<string, unknown>,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ type: 'error', err: new Error('strategy never ended') }), 5000);
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      resolve(o);
    };
    const req = { method: request.method, body: request.body, query: {}, res: recordingResponse(done) } as unknown as Request;
    const actions = Object.assign(Object.create(strategy) as SamlStrategy, {
      success: (user: unknown) => done({ type: 'success', user }),
      fail: (challenge: { message: string } | string | undefined, status?: number) =>
        done({ type: 'fail', message: typeof challenge === 'string' ? challenge : (challenge?.message ?? ''), status }),
      redirect: (url: string) => done({ type: 'error', err: new Error(`unexpected redirect to ${url}`) }),
      error: (err: unknown) => done({ type: 'error', err }),
    });
    actions.authenticate(req, options);
  });
}

/** Posts a SAMLResponse (XML text, base64-encoded here) to the strategy as the IdP's browser would. */
export function postResponse(strategy: SamlStrategy, xml: string, loginState: LoginState, groups = true): Promise<Outcome> {
  return runStrategy(
    strategy,
    { method: 'POST', body: { SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'), RelayState: 'auth-request-1' } },
    brokerOptions(loginState, 'callback', groups),
  );
}
