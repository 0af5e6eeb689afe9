/** SAML times: xs:dateTime in UTC, `Z` or an explicit offset required, calendar checked. */
import { describe, expect, test } from '@jest/globals';
import { parseSamlTime } from '../../../strategies/saml/times.js';

describe('saml: parseSamlTime', () => {
  test.each([
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00:00.1234567Z', '2024-05-01T12:00:00.123Z'],
    ['2024-05-01T14:30:00+02:30', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T07:00:00-05:00', '2024-05-01T12:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('%s is %s', (value, iso) => {
    expect(new Date(parseSamlTime(value, 'NotOnOrAfter') ?? NaN).toISOString()).toBe(iso);
  });

  test('absent is undefined', () => {
    expect(parseSamlTime(undefined, 'NotOnOrAfter')).toBeUndefined();
  });

  test.each(['2024-05-01T12:00:00', '2024-05-01T12:00:00.500'])('%s, without a time zone, is refused', (value) => {
    expect(() => parseSamlTime(value, 'Conditions NotOnOrAfter')).toThrow(
      /^Conditions NotOnOrAfter has no time zone: SAML times are in UTC and must end in Z/,
    );
  });

  test.each([
    '2023-02-29T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T12:60:00Z',
    '2024-05-01T12:00:00+15:00',
    '2024-05-01 12:00:00Z',
    '2024-05-01T12:00Z',
    'Wed, 01 May 2024 12:00:00 GMT',
    '1714564800',
    '',
  ])('%j is not a date-time', (value) => {
    expect(() => parseSamlTime(value, 'NotBefore')).toThrow(/^NotBefore is not a date-time/);
  });
});
