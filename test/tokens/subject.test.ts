import { describe, expect, test } from '@jest/globals';
import { decodeSubject, encodeSubject } from '../../lib/tokens/subject.js';

describe("Dex's sub encoding", () => {
  test('the test vector of DESIGN.md', () => {
    expect(encodeSubject('0-385-28089-0', 'mock')).toBe('Cg0wLTM4NS0yODA4OS0wEgRtb2Nr');
  });

  test('long and non-ASCII values round-trip (multi-byte varint lengths)', () => {
    const userId = `uid=zoë,${'x'.repeat(300)}`;
    const sub = encodeSubject(userId, 'ldap');
    expect(sub).not.toMatch(/[=+/]/);
    expect(decodeSubject(sub)).toEqual({ userId, connectorId: 'ldap' });
  });

  test('garbage is refused', () => {
    expect(() => decodeSubject('AAAA')).toThrow();
  });
});
