/**
 * The express-session store on the broker's storage. `touch` is what express-session calls at the
 * end of a request that did not modify its copy of the session, with that copy: it must only
 * extend the stored session's expiry, never write the (possibly stale) copy back.
 */
import { expect, test } from '@jest/globals';
import type session from 'express-session';
import { StorageSessionStore } from '../lib/session-store.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { frozenClock } from './helpers/clock.js';

const clock = frozenClock();
const storage = new MemoryStorage(clock);
const store = new StorageSessionStore(storage, clock);

/** The store's callback API as promises, in the order express-session calls it. */
const get = (sid: string) => new Promise<session.SessionData | null | undefined>((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
const set = (sid: string, s: session.SessionData) => new Promise<void>((resolve, reject) => store.set(sid, s, (err) => (err ? reject(err) : resolve())));
const destroy = (sid: string) => new Promise<void>((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve())));
const touch = (sid: string, s: session.SessionData) => new Promise<void>((resolve, reject) => store.touch(sid, s, (err?: unknown) => (err ? reject(err) : resolve())));

const cookieExpiring = (ms: number) => ({ originalMaxAge: ms, expires: new Date(clock() + ms), httpOnly: true, path: '/' }) as session.Cookie;
const loggedIn = (ms: number) => ({ cookie: cookieExpiring(ms), 'dexpress:login': { connectorId: 'pw', claims: { sub: 'alice' } } }) as unknown as session.SessionData;

test('a request that loaded the session before a logout cannot write the login back by touching it', async () => {
  await set('sid1', loggedIn(60_000));
  const staleCopy = await get('sid1'); // request Y (a prompt=none iframe) loads the session
  await set('sid1', { cookie: cookieExpiring(60_000) }); // request X: /logout saves the session without the login
  await touch('sid1', { ...staleCopy!, cookie: cookieExpiring(120_000) }); // Y ends unmodified: express-session touches
  const stored = await get('sid1');
  expect(stored).not.toHaveProperty('dexpress:login');
  expect((await storage.find('session', 'sid1'))!.expiresAt).toBe(clock() + 120_000);
});

test('touching a destroyed session does not bring it back', async () => {
  await set('sid2', loggedIn(60_000));
  const staleCopy = await get('sid2');
  await destroy('sid2');
  await touch('sid2', staleCopy!);
  expect(await get('sid2')).toBeNull();
  expect(await storage.find('session', 'sid2')).toBeUndefined();
});

test('touch extends the expiry of the stored session and keeps its contents', async () => {
  await set('sid3', loggedIn(1_000));
  await touch('sid3', loggedIn(300_000));
  clock.advance(2_000);
  expect(await get('sid3')).toHaveProperty('dexpress:login');
});
