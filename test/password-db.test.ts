/** The password DB (Dex's connector `local`) on its own: timing of unknown emails, and Dex's identity on login and refresh. */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import bcrypt from 'bcryptjs';
import type { StaticPassword } from '../lib/config/settings.js';
import { createPasswordDB, dummyHashFor } from '../lib/password-db.js';

// bcrypt of "password", as in Dex's examples, at cost 10; the same password at cost 12 is made once.
const HASH_10 = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';
const HASH_12 = bcrypt.hashSync('password', 12);
const scopes = { offlineAccess: true, groups: true };

const user = (patch: Partial<StaticPassword> = {}): StaticPassword => ({
  email: 'admin@example.com',
  hash: HASH_10,
  username: 'admin',
  emailVerified: true,
  userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
  groups: ['admins'],
  ...patch,
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('an unknown email', () => {
  test('is checked against a hash at the highest configured cost, so it answers as slowly as a known one', async () => {
    const compare = jest.spyOn(bcrypt, 'compare');
    const db = createPasswordDB([user(), user({ email: 'slow@example.com', hash: HASH_12, userID: '2' })]);
    await expect(db.login!('ghost@example.com', 'password', scopes)).resolves.toBeNull();
    expect(compare).toHaveBeenCalledTimes(1);
    expect(bcrypt.getRounds(compare.mock.calls[0]![1] as string)).toBe(12);
  });

  test('the dummy hash is at cost 10 without users, and never outside Dex’s 10..16', () => {
    expect(bcrypt.getRounds(dummyHashFor([]))).toBe(10);
    expect(bcrypt.getRounds(dummyHashFor([user({ hash: HASH_10.replace('$10$', '$04$') })]))).toBe(10);
    expect(bcrypt.getRounds(dummyHashFor([user(), user({ hash: HASH_10.replace('$10$', '$14$') })]))).toBe(14);
  });

  test('a known email with the right password still logs in at either cost', async () => {
    const db = createPasswordDB([user(), user({ email: 'slow@example.com', hash: HASH_12, userID: '2' })]);
    expect((await db.login!('admin@example.com', 'password', scopes))?.userId).toBe(user().userID);
    expect((await db.login!('slow@example.com', 'password', scopes))?.userId).toBe('2');
  });
});

describe('the identity, field for field as Dex’s passwordDB', () => {
  test('login: name is `name` or else `username`; preferred_username only when preferredUsername is set', async () => {
    const db = createPasswordDB([user(), user({ email: 'named@example.com', userID: '2', name: 'Ada Admin', preferredUsername: 'ada', emailVerified: false })]);
    expect(await db.login!('admin@example.com', 'password', scopes)).toEqual({
      userId: user().userID,
      username: 'admin',
      email: 'admin@example.com',
      emailVerified: true,
      groups: ['admins'],
    });
    expect(await db.login!('named@example.com', 'password', scopes)).toEqual({
      userId: '2',
      username: 'Ada Admin',
      preferredUsername: 'ada',
      email: 'named@example.com',
      emailVerified: false,
      groups: ['admins'],
    });
  });

  test('refresh finds the user by email and re-reads name, preferred username, emailVerified and groups', async () => {
    const identity = (await createPasswordDB([user({ preferredUsername: 'old' })]).login!('admin@example.com', 'password', scopes))!;
    const changed = createPasswordDB([user({ name: 'New Name', emailVerified: false, groups: ['ops'] })]);
    expect(await changed.refresh!(identity, scopes)).toEqual({
      userId: user().userID,
      username: 'New Name',
      email: 'admin@example.com',
      emailVerified: false,
      groups: ['ops'],
    });
  });

  test('refresh fails when the email is gone, even if the userID is still there under another email', async () => {
    const identity = (await createPasswordDB([user()]).login!('admin@example.com', 'password', scopes))!;
    await expect(createPasswordDB([user({ email: 'renamed@example.com' })]).refresh!(identity, scopes)).rejects.toThrow('no longer exists');
  });

  test('refresh fails when the email now belongs to another userID (the user was removed and another added)', async () => {
    const identity = (await createPasswordDB([user()]).login!('admin@example.com', 'password', scopes))!;
    await expect(createPasswordDB([user({ userID: 'someone-else' })]).refresh!(identity, scopes)).rejects.toThrow('no longer exists');
  });
});
