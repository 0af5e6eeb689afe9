/**
 * The shared helpers the platform connectors stand on (strategies/shared/platform.ts, tls.ts):
 * pagination links that must stay on the API's origin, expiry, the single-flight refresh guard,
 * and Dex's ways of giving a CA.
 */
import { describe, expect, test } from '@jest/globals';
import { UpstreamError } from '../../../lib/errors.js';
import { SingleFlight, isExpired, sameOrigin } from '../../../strategies/shared/platform.js';
import { readCA } from '../../../strategies/shared/tls.js';

describe('sameOrigin', () => {
  test('keeps a next-page link on the same origin, resolving relative ones', () => {
    expect(sameOrigin('https://api.github.com/user/teams', 'https://api.github.com/user/teams?page=2')).toBe('https://api.github.com/user/teams?page=2');
    expect(sameOrigin('https://api.github.com/user/teams', '/user/teams?page=3')).toBe('https://api.github.com/user/teams?page=3');
    expect(sameOrigin('https://api.github.com/user/teams', undefined)).toBeUndefined();
  });

  test('refuses a link to another origin, which would receive the bearer token', () => {
    expect(() => sameOrigin('https://api.github.com/user/teams', 'https://evil.example/steal')).toThrow(UpstreamError);
    expect(() => sameOrigin('https://api.github.com/user/teams', 'http://api.github.com/user/teams?page=2')).toThrow(/another origin/);
  });
});

describe('isExpired', () => {
  const now = Date.UTC(2026, 0, 1);
  test('a token without expiry never expires; one within the skew counts as expired', () => {
    expect(isExpired({ accessToken: 'a' }, now)).toBe(false);
    expect(isExpired({ accessToken: 'a', expiry: new Date(now + 60_000).toISOString() }, now)).toBe(false);
    expect(isExpired({ accessToken: 'a', expiry: new Date(now + 5_000).toISOString() }, now)).toBe(true);
    expect(isExpired({ accessToken: 'a', expiry: 'garbage' }, now)).toBe(true);
  });
});

describe('SingleFlight', () => {
  test('joins concurrent calls, remembers the result for a while, and forgets failures', async () => {
    const flight = new SingleFlight<number>(1000);
    let calls = 0;
    const task = async () => ++calls;
    const [a, b] = await Promise.all([flight.run('k', task), flight.run('k', task)]);
    expect([a, b, calls]).toEqual([1, 1, 1]);
    expect(await flight.run('k', task)).toBe(1);
    expect(await flight.run('k', task, Date.now() + 2000)).toBe(2);
    await expect(flight.run('bad', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await flight.run('bad', task)).toBe(3);
  });
});

describe('readCA', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  test('takes PEM text and base64 of PEM, and refuses anything else', () => {
    expect(readCA(pem)).toBe(pem);
    expect(readCA(Buffer.from(pem).toString('base64'))).toBe(pem);
    expect(() => readCA('/no/such/file.pem')).toThrow(/not a PEM file path/);
  });
});
