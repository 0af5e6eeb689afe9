/**
 * The warn line for a storage outage met while serving a request. An outage fails every request
 * at once, so the lines are limited: at most one per `intervalMs` per process, the next line
 * saying how many were left out. Credentials that a driver may quote in its message
 * (`password=...`, `user:pass@host`) are taken out.
 */
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';

/** `password=x`, `pwd: x`, `secret=x`, `token=x` and the password of a `scheme://user:password@host` URL. */
const CREDENTIAL = /\b(password|passwd|pwd|secret|token)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;)&]+)/gi;
const URL_PASSWORD = /(\/\/[^\s/:@]+:)[^\s/@]+@/g;

/** `message` without the credentials a database driver or connection string may put in it. */
export function withoutCredentials(message: string): string {
  return message.replace(CREDENTIAL, '$1$2[redacted]').replace(URL_PASSWORD, '$1[redacted]@');
}

export class StorageOutageLog {
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs the outage at warn unless a line went out less than `intervalMs` ago (then counts it). */
  report(logger: Logger, err: unknown, where: { path: string; requestId: unknown }): void {
    const at = this.now();
    if (at - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.lastAt = at;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    logger.warn({ ...where, error: withoutCredentials(errorMessage(err)), ...(suppressed > 0 ? { suppressed } : {}) }, 'storage unavailable: answered 503');
  }
}

/** One per process: an outage is the process's, whichever broker meets it. */
export const storageOutageLog = new StorageOutageLog();
