/**
 * The built-in password DB (`enablePasswordDB` + `staticPasswords`), Dex's connector `local`
 * (`server/connectors/password.go`): users log in with their email and a password checked
 * against a bcrypt hash. The identity is Dex's, field for field.
 */
import bcrypt from 'bcryptjs';
import { Strategy } from 'passport-strategy';
import type { Request } from 'express';
import { bcryptCost, MAX_BCRYPT_COST, MIN_BCRYPT_COST } from './bcrypt-cost.js';
import type { Connector } from './connector.js';
import type { StaticPassword } from './config/settings.js';
import { RefreshFailedError } from './errors.js';
import type { Identity } from './identity.js';

/** Salt and digest of the hash compared against when the email is unknown (any valid 53 characters do). */
const DUMMY_SALT_AND_DIGEST = 'CwTycUXWue0Thq9StjUM0uJ8DPLKXt1FYlwYpQW12fDO6s8xvhK1m';

/**
 * The hash an unknown email is checked against, at the highest cost among the users' hashes, so
 * an unknown email takes as long as the slowest known one (each step of cost doubles the time).
 */
export function dummyHashFor(users: readonly StaticPassword[]): string {
  const costs = users.map((u) => bcryptCost(u.hash) ?? MIN_BCRYPT_COST);
  const cost = Math.min(MAX_BCRYPT_COST, Math.max(MIN_BCRYPT_COST, ...costs));
  return `$2a$${String(cost).padStart(2, '0')}$${DUMMY_SALT_AND_DIGEST}`;
}

/** Dex's `resolvePasswordName`. */
const nameOf = (user: StaticPassword): string => user.name || user.username;

/** The fields Dex's Login sets, and its Refresh sets again: no `preferredUsername` unless configured. */
function profileOf(user: StaticPassword): Pick<Identity, 'username' | 'preferredUsername' | 'emailVerified' | 'groups'> {
  return {
    username: nameOf(user),
    ...(user.preferredUsername ? { preferredUsername: user.preferredUsername } : {}),
    emailVerified: user.emailVerified,
    groups: [...user.groups],
  };
}

export function createPasswordDB(users: readonly StaticPassword[]): Connector {
  const byEmail = new Map(users.map((u) => [u.email.toLowerCase(), u]));
  const dummyHash = dummyHashFor(users);
  const login = async (username: string, password: string): Promise<Identity | null> => {
    if (password === '') return null;
    const user = byEmail.get(username.trim().toLowerCase());
    const ok = await bcrypt.compare(password, user?.hash ?? dummyHash);
    if (!user || !ok) return null;
    return { userId: user.userID, email: user.email, ...profileOf(user) };
  };

  class PasswordDBStrategy extends Strategy {
    name = 'local';
    override authenticate(req: Request): void {
      const self = this as unknown as { success(u: Identity): void; fail(c: object, s: number): void; error(e: unknown): void };
      const body = (req.body ?? {}) as Record<string, unknown>;
      const email = typeof body.login === 'string' ? body.login : typeof body.username === 'string' ? body.username : '';
      const password = typeof body.password === 'string' ? body.password : '';
      login(email, password).then(
        (identity) => (identity ? self.success(identity) : self.fail({ message: 'Invalid Email Address and password.' }, 401)),
        (err: unknown) => self.error(err),
      );
    }
  }

  return {
    strategy: new PasswordDBStrategy(),
    login,
    prompt: 'Email Address',
    // Dex's Refresh: the entry is found by the email (the user's key), must still have the same
    // userID (a user removed and another added under that email cannot refresh), and name,
    // preferred username, emailVerified and groups are read again.
    refresh: async (identity) => {
      const user = identity.email === undefined ? undefined : byEmail.get(identity.email.toLowerCase());
      if (!user || user.userID !== identity.userId) throw new RefreshFailedError('the user no longer exists in staticPasswords');
      const { preferredUsername: _dropped, ...rest } = identity;
      return { ...rest, ...profileOf(user) };
    },
  };
}
