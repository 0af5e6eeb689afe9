/**
 * Drives a Passport strategy for one request, as `passport.authenticate` would, and reports
 * which of `success / fail / redirect / pass / error` it ended in (or that it wrote the response
 * itself). A fresh `Object.create(strategy)` per call, as Passport does; only the first outcome
 * counts, an exception it throws (or a promise it returns that rejects) is its `error`, and a
 * strategy that never ends is cut off after `timeoutMs`.
 */
import type { Request, Response } from 'express';
import type { Strategy } from 'passport';

export type Outcome =
  | { type: 'success'; user: unknown }
  | { type: 'fail'; message: string | undefined; status: number }
  | { type: 'redirect'; url: string; status: number }
  | { type: 'pass' }
  | { type: 'error'; error: unknown }
  | { type: 'handled' };

function failureMessage(challenge: unknown): string | undefined {
  if (typeof challenge === 'string') return challenge;
  if (typeof challenge === 'object' && challenge !== null && typeof (challenge as { message?: unknown }).message === 'string') {
    return (challenge as { message: string }).message;
  }
  return undefined;
}

export function runStrategy(strategy: Strategy, req: Request, res: Response, options: object, timeoutMs = 30_000): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off('finish', onFinish);
      resolve(outcome);
    };
    const onFinish = () => finish({ type: 'handled' });
    const timer = setTimeout(() => finish({ type: 'error', error: new Error(`strategy ${strategy.name ?? ''} did not answer within ${timeoutMs} ms`) }), timeoutMs);
    res.on('finish', onFinish);
    const s = Object.create(strategy) as Record<string, unknown>;
    s.success = (user: unknown) => finish({ type: 'success', user });
    s.fail = (challenge?: unknown, status?: number) =>
      finish({ type: 'fail', message: failureMessage(challenge), status: typeof challenge === 'number' ? challenge : (status ?? 401) });
    s.redirect = (url: string, status?: number) => finish({ type: 'redirect', url, status: status ?? 302 });
    s.pass = () => finish({ type: 'pass' });
    s.error = (error: unknown) => finish({ type: 'error', error });
    try {
      const result: unknown = (strategy.authenticate as (this: unknown, req: Request, options: object) => unknown).call(s, req, options);
      // An async authenticate (or one returning its verify callback's promise, as passport-custom
      // does) that rejects would otherwise be an unhandled rejection, and the login would hang.
      const then = (result as { then?: unknown } | null | undefined)?.then;
      if (typeof then === 'function') (then as (ok: () => void, fail: (error: unknown) => void) => unknown).call(result, () => undefined, (error) => finish({ type: 'error', error }));
    } catch (error) {
      finish({ type: 'error', error });
    }
  });
}
