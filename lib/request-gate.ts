/**
 * The requests a broker is serving, so that `broker.close()` lets them finish before it closes
 * storage and connectors, and answers the ones that arrive after it 503 instead of running them
 * against closed storage (which failed them as `server_error`, or on memory storage served them
 * from emptied tables).
 */
import type { ServerResponse } from 'node:http';
import { OAuthError } from './errors.js';

/** The answer to a request that arrives after `broker.close()` began. */
export function shuttingDown(): OAuthError {
  return new OAuthError('temporarily_unavailable', 'The service is shutting down; try again shortly.', 503);
}

export class RequestGate {
  private inFlight = 0;
  private shut = false;
  private idle: (() => void) | undefined;

  /** Counts a request until its response closes; false once `close()` has begun (answer 503). */
  enter(res: ServerResponse): boolean {
    if (this.shut) return false;
    this.inFlight++;
    res.once('close', this.leave);
    return true;
  }

  /** One listener for every response (a closure per request was a cost on the /token hot path). */
  private readonly leave = (): void => {
    if (--this.inFlight === 0) this.idle?.();
  };

  /** Refuses new requests, then resolves when those in flight are done, or after `deadlineMs` (resolving to how many were still running). */
  close(deadlineMs: number): Promise<number> {
    this.shut = true;
    if (this.inFlight === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.inFlight), deadlineMs);
      timer.unref();
      this.idle = () => {
        clearTimeout(timer);
        resolve(0);
      };
    });
  }
}
