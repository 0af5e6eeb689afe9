/** `staticPasswords`: the password DB's users, their bcrypt hashes checked as Dex checks them. */
import type { DexConfig } from './schema.js';
import type { StaticPassword } from './settings.js';
import type { Issue } from './issues.js';
import { bcryptCost, MAX_BCRYPT_COST, MIN_BCRYPT_COST } from '../bcrypt-cost.js';

export function staticPasswords(config: DexConfig, env: NodeJS.ProcessEnv, issues: Issue[], warnings: string[]): StaticPassword[] {
  const passwords: StaticPassword[] = [];
  // Dex's Config.Validate: "cannot specify static passwords without enabling password db".
  if ((config.staticPasswords ?? []).length > 0 && !config.enablePasswordDB) {
    issues.push({ path: 'staticPasswords', message: 'needs enablePasswordDB: true (Dex refuses to start without it too)' });
  }
  (config.staticPasswords ?? []).forEach((p, i) => {
    const path = `staticPasswords[${i}]`;
    const given = p.hash || (p.hashFromEnv ? env[p.hashFromEnv] : undefined);
    if (!given) {
      issues.push({ path: `${path}.hash`, message: p.hashFromEnv ? `environment variable ${p.hashFromEnv} is not set` : 'is required' });
      return;
    }
    const hash = bcryptOrBase64Bcrypt(given);
    const cost = hash === undefined ? undefined : bcryptCost(hash);
    if (hash === undefined || cost === undefined) {
      issues.push({ path: `${path}.hash`, message: 'must be a bcrypt hash ($2a$..., $2b$... or $2y$...), or one in base64' });
      return;
    }
    // Dex's passwords.CheckCost, which Dex applies at each login: refused here, once, at start.
    if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
      issues.push({ path: `${path}.hash`, message: `bcrypt cost ${cost} is outside ${MIN_BCRYPT_COST}..${MAX_BCRYPT_COST} (12 is recommended)` });
      return;
    }
    if (!p.userID) {
      // Dex logs such a user in with an empty user id, so every one of them gets the same `sub`
      // (one account in every client). dexpress refuses to mint that: the user is left out.
      warnings.push(`${path}.userID is not set: ${p.email} cannot log in (Dex would give every user without a userID the same subject); set a unique userID`);
      return;
    }
    passwords.push({
      email: p.email.toLowerCase(),
      hash,
      username: p.username,
      ...(p.name ? { name: p.name } : {}),
      ...(p.preferredUsername ? { preferredUsername: p.preferredUsername } : {}),
      emailVerified: p.emailVerified ?? true,
      userID: p.userID,
      groups: p.groups ?? [],
    });
  });
  return passwords;
}

/**
 * Dex's password.UnmarshalJSON: a bcrypt hash as is, or "for backwards compatibility" a bcrypt
 * hash in base64. Undefined when it is neither.
 */
function bcryptOrBase64Bcrypt(value: string): string | undefined {
  if (bcryptCost(value) !== undefined) return value;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('latin1');
  return bcryptCost(decoded) === undefined ? undefined : decoded;
}
