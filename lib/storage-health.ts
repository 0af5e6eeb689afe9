/**
 * Whether the storage can be written, asked as Dex's health check asks it (storage/health.go):
 * create a short-lived auth request, then delete it. A storage that answers reads but refuses
 * writes (a file or mount turned read-only, a full disk, a PostgreSQL standby after a failover)
 * fails every login, so it is unhealthy; a read (`ping`) would not notice.
 *
 * Each check reads (`ping`), so storage going away shows at once. The write is asked again only
 * when the last one failed or is `CACHE_MS` old, timed on the monotonic clock (not the broker's,
 * which tests freeze): `/healthz` is public, and probes from anyone cost a healthy storage at most
 * one write and one delete per instance in that time (Dex checks every 15 s). A storage turned
 * read-only shows within `CACHE_MS`; one that recovers, at the next check.
 */
import type { Clock, Storage } from './storage/index.js';
import { randomToken } from './tokens/random.js';

const CACHE_MS = 5_000;
/** The probe record's lifetime: if its delete fails, expiry removes it. */
const PROBE_TTL_MS = 60_000;

export class StorageHealth {
  /** When a write last went through (monotonic ms). */
  private lastWrite: number | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly now: Clock,
  ) {}

  /** True when storage answers a read now, and took a write and a delete within the last `CACHE_MS`. */
  async check(): Promise<boolean> {
    try {
      await this.storage.ping();
    } catch {
      return false;
    }
    const at = performance.now();
    if (this.lastWrite === undefined || at - this.lastWrite >= CACHE_MS) {
      if (!(await this.probe())) return false;
      this.lastWrite = at;
    }
    return true;
  }

  private async probe(): Promise<boolean> {
    const id = `healthz-${randomToken(12)}`;
    try {
      if (!(await this.storage.create('authRequest', id, { healthCheck: true }, { expiresAt: this.now() + PROBE_TTL_MS }))) return false;
      await this.storage.destroy('authRequest', id);
      return true;
    } catch {
      return false;
    }
  }
}
