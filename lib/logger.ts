/** pino, as JSON or as one readable line per entry (`logger.format: text`), at `logger.level`. */
import { pino, type DestinationStream, type Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
import type { Settings } from './config/settings.js';

/** Fields that must never reach a log line. */
const REDACT = ['password', 'client_secret', 'refresh_token', 'access_token', 'id_token', 'code', 'req.headers.authorization', 'req.headers.cookie'];

/**
 * Control characters (C0, DEL, C1) and the Unicode line separators, written as `\uXXXX`: a
 * message may quote what a request sent (a SAML Status), and a newline or carriage return in it
 * would start a forged log line, an escape sequence would drive the terminal. `JSON.stringify`
 * escapes C0 only. (Dex's text format quotes with Go's strconv.Quote, which escapes them all.)
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const escapeControls = (s: string) => s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function textStream(out: NodeJS.WritableStream) {
  return {
    write(line: string) {
      try {
        const { time, level, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${escapeControls(JSON.stringify(v))}`)
          .join(' ');
        out.write(`${new Date(Number(time)).toISOString()} ${LEVELS[Number(level)] ?? String(level)} ${escapeControls(String(msg ?? ''))}${fields ? ` ${fields}` : ''}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

/**
 * JSON lines keyed as Dex's (Go slog's JSON handler) are: `level` a name (`"INFO"`, `"ERROR"`),
 * `time` an RFC 3339 string, so a log pipeline or alert written for Dex reads them unchanged.
 */
const DEX_JSON = {
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (_label: string, level: number) => ({ level: LEVELS[level] ?? String(level) }) },
};

/**
 * Dex's `logger.excludeFields`: these top-level fields are dropped from every line, a child
 * logger's bound ones too (message, level and time stay). Done on the written line, as pino's
 * formatters never see a child's bindings.
 */
function excluding(out: { write(line: string): unknown }, excluded: readonly string[] | undefined) {
  if (!excluded?.length) return out;
  const drop = new Set(excluded);
  drop.delete('level');
  drop.delete('time');
  drop.delete('msg');
  return {
    write(line: string) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        out.write(`${JSON.stringify(Object.fromEntries(Object.entries(entry).filter(([k]) => !drop.has(k))))}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

export function createLogger(settings: Settings['logger'], out: NodeJS.WritableStream = process.stderr): Logger {
  const options = { level: settings.level, redact: { paths: REDACT, censor: '[redacted]' }, base: null };
  return settings.format === 'json'
    ? pino({ ...options, ...DEX_JSON }, excluding(out, settings.excludeFields) as DestinationStream)
    : pino(options, excluding(textStream(out), settings.excludeFields));
}
