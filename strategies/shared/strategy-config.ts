/**
 * A strategy built alone (`new GitHubStrategy(config)`) checks its config against its type's
 * `configSchema` when it is constructed, as the broker checks it at start-up: a missing or
 * malformed key is a `ConfigError` naming it there, not a broken redirect (or, for SAML, a
 * response nobody verifies) at the first login. The schema's output is what the strategy uses,
 * so `""` reads as not set here too. Parsing a config the schema already parsed gives it back.
 */
import type { z } from 'zod';
import { ConfigError } from '../../lib/errors.js';

export function parseStrategyConfig<S extends z.ZodType>(schema: S, config: unknown): z.output<S> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
}
