/** pino, as JSON or as one readable line per entry (`logger.format: text`), at `logger.level`. */
import { pino, type DestinationStream, type Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
import type { Settings } from './config/settings.js';

/** Fields that must never reach a log line. */
const REDACT = ['password', 'client_secret', 'refresh_token', 'access_token', 'id_token', 'code', 'req.headers.authorization', 'req.headers.cookie'];

function textStream(out: NodeJS.WritableStream) {
  return {
    write(line: string) {
      try {
        const { time, level, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(' ');
        out.write(`${new Date(Number(time)).toISOString()} ${LEVELS[Number(level)] ?? String(level)} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

export function createLogger(settings: Settings['logger'], out: NodeJS.WritableStream = process.stderr): Logger {
  const options = { level: settings.level, redact: { paths: REDACT, censor: '[redacted]' }, base: null };
  return settings.format === 'json' ? pino(options, out as DestinationStream) : pino(options, textStream(out));
}
