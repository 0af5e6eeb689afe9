/** Filter building: RFC 4515 escaping, checked against ldapts's own filter parser for any string. */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { AndFilter, EqualityFilter, FilterParser, OrFilter } from 'ldapts';
import { escapeFilterValue, userFilter } from '../../../strategies/ldap/filter.js';

describe('escapeFilterValue', () => {
  test.each([
    ['Parens R Us (for all your parenthetical needs)', 'Parens R Us \\28for all your parenthetical needs\\29'],
    ['*', '\\2a'],
    ['C:\\MyFile', 'C:\\5cMyFile'],
    ['a\0b', 'a\\00b'],
    ['*)(uid=*', '\\2a\\29\\28uid=\\2a'],
    ['Lučić', 'Lučić'],
  ])('%j → %j', (value, escaped) => {
    expect(escapeFilterValue(value)).toBe(escaped);
  });

  test('any string parses back to one equality assertion on exactly that value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (value) => {
        const parsed = FilterParser.parseString(`(uid=${escapeFilterValue(value)})`);
        expect(parsed).toBeInstanceOf(EqualityFilter);
        expect((parsed as EqualityFilter).value.toString()).toBe(value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('userFilter', () => {
  test('one attribute without a configured filter is a bare equality', () => {
    expect(userFilter('', ['uid'], 'alice')).toBe('(uid=alice)');
  });

  test('several attributes are ORed and the configured filter is ANDed, as in Dex', () => {
    const filter = userFilter('(objectClass=person)', ['uid', 'mail'], 'a*');
    expect(filter).toBe('(&(objectClass=person)(|(uid=a\\2a)(mail=a\\2a)))');
    const parsed = FilterParser.parseString(filter) as AndFilter;
    expect(parsed).toBeInstanceOf(AndFilter);
    expect(parsed.filters[1]).toBeInstanceOf(OrFilter);
  });
});
