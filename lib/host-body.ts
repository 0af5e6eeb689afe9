/**
 * A request body that a body parser of the host app read before the broker saw the request:
 * `express.urlencoded()` leaves an object, `express.text()` a string, `express.raw()` a Buffer.
 * The stream is then spent, so the broker reads the form from what the parser left.
 */
import type { IncomingMessage } from 'node:http';

export const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/** The form fields a host's parser left in `body` (an object, or the raw form as text or bytes); undefined when it left nothing usable. */
export function hostParsedForm(body: unknown): Iterable<[string, unknown]> | undefined {
  if (typeof body === 'string') return new URLSearchParams(body);
  if (Buffer.isBuffer(body)) return new URLSearchParams(body.toString('utf8'));
  if (typeof body === 'object' && body !== null) return Object.entries(body as Record<string, unknown>);
  return undefined;
}

/**
 * For the router's form routes, after the broker's own parser (which skips a body already read):
 * a raw form a host's `express.text()` or `express.raw()` left is parsed as the broker's parser
 * would have (a repeated field becomes an array); a raw body of another type is dropped.
 */
export function adoptHostRawBody(req: IncomingMessage & { body?: unknown }): void {
  const { body } = req;
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return;
  if (!FORM_TYPE.test(req.headers['content-type'] ?? '')) {
    req.body = undefined;
    return;
  }
  const form: Record<string, string | string[]> = {};
  for (const [k, v] of hostParsedForm(body) as URLSearchParams) {
    const seen = form[k];
    form[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
  }
  req.body = form;
}
