/**
 * SAML times (`NotBefore`, `NotOnOrAfter`): xs:dateTime, which SAML core (1.3.3) requires in UTC.
 * A time must end in `Z` or carry an explicit offset (`+01:00`); one without a zone is refused,
 * never read in the server's local time zone (as `Date.parse` would read it).
 */
import { SamlRefusedError } from './errors.js';

const DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/** Offset of a zone designator in minutes east of UTC, or `undefined` when out of range. */
function offsetMinutes(zone: string): number | undefined {
  if (zone === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 14 || minutes > 59 || (hours === 14 && minutes > 0)) return undefined;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * Parses the attribute `name` (for messages, e.g. `Conditions NotOnOrAfter`) as a SAML time, in
 * ms since the epoch; `undefined` when absent.
 */
export function parseSamlTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const match = DATE_TIME.exec(value);
  const notDateTime = (): never => {
    throw new SamlRefusedError('malformed', `${name} is not a date-time (xs:dateTime such as 2024-05-01T12:00:00Z).`);
  };
  if (!match) return notDateTime();
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  if (zone === undefined) {
    throw new SamlRefusedError('malformed', `${name} has no time zone: SAML times are in UTC and must end in Z (or carry an offset such as +01:00).`);
  }
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const offset = offsetMinutes(zone);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || offset === undefined) {
    return notDateTime();
  }
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, Number((fraction ?? '').padEnd(3, '0').slice(0, 3))));
  date.setUTCFullYear(year);
  return date.getTime() - offset * 60_000;
}
