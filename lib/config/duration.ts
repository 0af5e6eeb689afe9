/**
 * Go's duration strings as Dex writes them (`24h`, `10m`, `1h30m`, `1.5s`, `300ms`), in
 * milliseconds, with time.ParseDuration's whole grammar: a sign (`-1h`, `+10m`), fractions
 * without a digit on one side (`.5h`, `1.h`), and `µs` in either of Go's two spellings.
 */
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  const s = text.trim();
  const sign = s.startsWith('-') ? -1 : 1;
  const body = /^[+-]/.test(s) ? s.slice(1) : s;
  if (body === '0') return 0;
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) throw new Error(`"${text}" is not a duration (examples: 24h, 10m, 1h30m, 500ms)`);
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (body.length === 0) throw new Error('empty duration');
  const ms = Math.round(total);
  return ms === 0 ? 0 : sign * ms;
}
