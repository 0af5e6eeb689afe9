/**
 * The built-in password DB (`enablePasswordDB` + `staticPasswords`), Dex's connector `local`:
 * users log in with their email and a password checked against a bcrypt hash.
 */
import bcrypt from 'bcryptjs';
import { Strategy } from 'passport-strategy';
import type { Request } from 'express';
import type { Connector } from './connector.js';
import type { StaticPassword } from './config/settings.js';
import { RefreshFailedError } from './errors.js';
import type { Identity } from './identity.js';

/** A hash compared against when the email is unknown, so both cases take the same time. */
const DUMMY_HASH = '$2a$10$CwTycUXWue0Thq9StjUM0uJ8DPLKXt1FYlwYpQW12fDO6s8xvhK1m';

export function createPasswordDB(users: readonly StaticPassword[]): Connector {
  const byEmail = new Map(users.map((u) => [u.email, u]));
  const login = async (username: string, password: string): Promise<Identity | null> => {
    if (password === '') return null;
    const user = byEmail.get(username.trim().toLowerCase());
    const ok = await bcrypt.compare(password, user?.hash ?? DUMMY_HASH);
    if (!user || !ok) return null;
    return {
      userId: user.userID,
      username: user.name ?? user.username,
      preferredUsername: user.preferredUsername ?? user.username,
      email: user.email,
      emailVerified: user.emailVerified,
      groups: [...user.groups],
    };
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
    // Dex re-reads the password entry on refresh: a deleted user can no longer refresh.
    refresh: async (identity) => {
      const user = users.find((u) => u.userID === identity.userId);
      if (!user) throw new RefreshFailedError('the user no longer exists in staticPasswords');
      return { ...identity, email: user.email, username: user.name ?? user.username, groups: [...user.groups] };
    },
  };
}
