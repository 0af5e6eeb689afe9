/**
 * Refresh tokens. A token is `<id>.<secret>`; storage keeps only a hash of the secret. Each
 * refresh rotates the secret (unless `disableRotation`). For `reuseInterval` after a rotation
 * the previous token still works and yields the same new token, so two concurrent refreshes from
 * one client both succeed: the new secret is HMAC-SHA256 of a fresh random salt keyed by the
 * previous secret, and storage keeps the salt, so only whoever holds the previous secret can
 * compute the new one (reading the database gives the salt and hashes, never a usable token). A
 * previous token presented after the window is a replay: the whole chain is revoked.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../config/settings.js';
import { OAuthError } from '../errors.js';
import type { Claims, JsonValue } from '../identity.js';
import type { Clock, Storage, StorageOps } from '../storage/index.js';
import { randomToken } from './random.js';

export interface RefreshRecord {
  clientId: string;
  connectorId: string;
  connectorType: string;
  scopes: string[];
  claims: Claims;
  connectorData?: JsonValue;
  nonce?: string;
  authTime?: number;
  tokenHash: string;
  /** The secret before the last rotation: its hash, and the salt that derived the current secret from it. */
  previous?: { hash: string; salt: string; rotatedAt: number };
  createdAt: number;
  lastUsedAt: number;
}

export type RefreshPolicy = Settings['expiry']['refreshTokens'];

export type NewRefresh = Omit<RefreshRecord, 'tokenHash' | 'previous' | 'createdAt' | 'lastUsedAt'>;

const invalid = (why: string) => new OAuthError('invalid_grant', why);

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('base64url');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The secret that follows `previous`: HMAC-SHA256 keyed by the previous secret (256 random bits,
 * or an earlier output of this function) over a fresh 128-bit salt. A pseudorandom function of a
 * secret key, so without the previous secret the salt says nothing about the result.
 */
function nextSecret(previous: string, salt: string): string {
  return createHmac('sha256', previous).update(salt).digest('base64url');
}

function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{16,128})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** The outcome of presenting a refresh token. */
export type Presented =
  /** A current token: the caller refreshes upstream, then calls `rotate`. */
  | { kind: 'current'; id: string; secret: string; record: RefreshRecord; version: number }
  /** The previous token within the reuse window: answer with the already-rotated token. */
  | { kind: 'reused'; id: string; record: RefreshRecord; token: string };

export class RefreshTokens {
  constructor(
    private readonly storage: Storage,
    private readonly policy: RefreshPolicy,
    private readonly now: Clock = Date.now,
  ) {}

  private expiry(record: Pick<RefreshRecord, 'createdAt' | 'lastUsedAt'>): number | null {
    const limits: number[] = [];
    if (this.policy.absoluteLifetimeMs) limits.push(record.createdAt + this.policy.absoluteLifetimeMs);
    if (this.policy.validIfNotUsedForMs) limits.push(record.lastUsedAt + this.policy.validIfNotUsedForMs);
    return limits.length > 0 ? Math.min(...limits) : null;
  }

  /** Stores a new token; `store` is a transaction's operations when the caller has one. */
  async create(grant: NewRefresh, store: StorageOps = this.storage): Promise<{ id: string; token: string }> {
    const id = randomToken(16);
    const secret = randomToken(32);
    const now = this.now();
    const record: RefreshRecord = { ...grant, tokenHash: hashSecret(secret), createdAt: now, lastUsedAt: now };
    await store.create('refreshToken', id, record, { expiresAt: this.expiry(record) });
    return { id, token: `${id}.${secret}` };
  }

  /**
   * Checks a presented token for `clientId`; throws `invalid_grant` for anything not valid. A
   * rotated-out token presented after the reuse window is a replay and revokes the chain, unless
   * `replayRevokes` is false: the caller presents it again because its own concurrent request
   * lost a race (that is not a replay), and then only gets `invalid_grant`.
   */
  async present(token: string, clientId: string, replayRevokes = true): Promise<Presented> {
    const parsed = parseToken(token);
    if (!parsed) throw invalid('Refresh token is invalid or has expired.');
    const found = await this.storage.find<RefreshRecord>('refreshToken', parsed.id);
    if (!found) throw invalid('Refresh token is invalid or has expired.');
    const record = found.value;
    if (record.clientId !== clientId) throw invalid('Refresh token was issued to another client.');
    // The policy in force now, not the one the record was stored under: a lifetime shortened
    // since (absoluteLifetime, validIfNotUsedFor) ends the tokens it rules out at once, as in Dex.
    const expiresAt = this.expiry(record);
    if (expiresAt !== null && expiresAt <= this.now()) throw invalid('Refresh token has expired.');
    const hash = hashSecret(parsed.secret);
    if (sameHash(hash, record.tokenHash)) {
      return { kind: 'current', id: parsed.id, secret: parsed.secret, record, version: found.version };
    }
    const prev = record.previous;
    // (A record rotated before the salt existed has no `salt`: its previous token is just invalid.)
    if (prev && typeof prev.salt === 'string' && sameHash(hash, prev.hash)) {
      // reuseInterval 0 turns the window off (as in Dex), even within the rotation's millisecond.
      if (this.policy.reuseIntervalMs > 0 && this.now() - prev.rotatedAt <= this.policy.reuseIntervalMs) {
        return { kind: 'reused', id: parsed.id, record, token: `${parsed.id}.${nextSecret(parsed.secret, prev.salt)}` };
      }
      if (!replayRevokes) throw invalid('Refresh token was rotated by a concurrent request; use the new one.');
      // A rotated-out token replayed after the window: someone copied it. Revoke the chain.
      await this.storage.destroy('refreshToken', parsed.id);
      throw invalid('Refresh token was already used; the session has been revoked.');
    }
    throw invalid('Refresh token is invalid or has expired.');
  }

  /**
   * Stores the refreshed claims and rotates the secret. Returns the token to hand out, or
   * undefined when another request rotated first (the caller then presents the token again and
   * lands in the reuse window).
   */
  async rotate(
    presented: Extract<Presented, { kind: 'current' }>,
    update: Pick<RefreshRecord, 'claims' | 'scopes'> & { connectorData?: JsonValue | undefined },
  ): Promise<string | undefined> {
    const now = this.now();
    const { connectorData, ...rest } = update;
    const base: RefreshRecord = { ...presented.record, ...rest, lastUsedAt: now };
    if (connectorData !== undefined) base.connectorData = connectorData;
    let token = `${presented.id}.${presented.secret}`;
    let next = base;
    if (!this.policy.disableRotation) {
      const salt = randomToken(16);
      const secret = nextSecret(presented.secret, salt);
      token = `${presented.id}.${secret}`;
      next = { ...base, tokenHash: hashSecret(secret), previous: { hash: presented.record.tokenHash, salt, rotatedAt: now } };
    }
    const ok = await this.storage.update('refreshToken', presented.id, presented.version, next, { expiresAt: this.expiry(next) });
    return ok ? token : undefined;
  }

  async revoke(id: string, store: StorageOps = this.storage): Promise<void> {
    await store.destroy('refreshToken', id);
  }
}
