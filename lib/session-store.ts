/**
 * An express-session store on the broker's storage, so every instance sharing the database sees
 * the same browser sessions (no sticky sessions needed).
 */
import session from 'express-session';
import type { Clock, Storage } from './storage/index.js';

const DEFAULT_TTL_MS = 24 * 3_600_000;

export class StorageSessionStore extends session.Store {
  /** `now` is the broker's clock, the one storage checks expiry with. */
  constructor(
    private readonly storage: Storage,
    private readonly now: Clock = Date.now,
  ) {
    super();
  }

  private expiry(sess: session.SessionData): number {
    const expires = sess.cookie?.expires;
    return expires ? new Date(expires).getTime() : this.now() + DEFAULT_TTL_MS;
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.storage.find<session.SessionData>('session', sid).then(
      (rec) => callback(null, rec?.value ?? null),
      (err: unknown) => callback(err),
    );
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    this.storage.upsert('session', sid, sess, { expiresAt: this.expiry(sess) }).then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.storage.destroy('session', sid).then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  /**
   * Extends the expiry of the session as it is stored now, never writing `sess` back: express-session
   * calls this at the end of a request that did not modify its (possibly stale) copy, and writing
   * that copy would undo a logout or a destroy done meanwhile by a concurrent request. A session
   * no longer stored stays gone; a write in between wins (the compare-and-swap is simply lost).
   */
  override touch(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    const expiresAt = this.expiry(sess);
    this.storage
      .find<session.SessionData>('session', sid)
      .then(async (rec) => {
        if (rec) await this.storage.update('session', sid, rec.version, rec.value, { expiresAt });
      })
      .then(
        () => callback?.(),
        (err: unknown) => callback?.(err),
      );
  }
}
