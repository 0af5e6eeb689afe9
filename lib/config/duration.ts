/** Go's duration strings as Dex writes them (`24h`, `10m`, `1h30m`, `1.5s`, `300ms`), in milliseconds. */
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new Error(`"${text}" is not a duration (examples: 24h, 10m, 1h30m, 500ms)`);
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s.length === 0) throw new Error('empty duration');
  return Math.round(total);
}
