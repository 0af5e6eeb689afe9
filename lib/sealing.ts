/**
 * Encryption at rest of `connectorData` (upstream access and refresh tokens, LDAP DNs...): with
 * a key configured (`connectorDataKey` or `connectorDataKeyEnv`, 32 bytes in base64), every
 * copy the broker stores (auth request, code, refresh token, login session) is AES-256-GCM
 * sealed; without one it is stored as is. Values stored before a key was configured still open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { JsonValue } from './identity.js';

const PREFIX = 'dexpress-sealed:v1:';

export class ConnectorDataSealer {
  private readonly key: Buffer | undefined;

  constructor(key?: Buffer) {
    if (key !== undefined && key.length !== 32) throw new Error('the connectorData key must be 32 bytes');
    this.key = key;
  }

  get enabled(): boolean {
    return this.key !== undefined;
  }

  seal(value: JsonValue | undefined): JsonValue | undefined {
    if (value === undefined || !this.key) return value;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { sealed: PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url') };
  }

  open(value: JsonValue | undefined): JsonValue | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const sealed = value.sealed;
    if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX) || Object.keys(value).length !== 1) return value;
    if (!this.key) throw new Error('connectorData is encrypted but no connectorDataKey is configured');
    const buf = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, 12));
    decipher.setAuthTag(buf.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8')) as JsonValue;
  }
}
