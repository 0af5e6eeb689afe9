/**
 * How Dex reads a connector's config values, for the schemas of the connectors that share it.
 * Dex decodes the config into a Go struct, where a string key set to "" is the same as the key
 * left out (Go's zero value): a templated `rootCA: ""`, or `redirectURI: $CALLBACK` with the
 * variable unset, starts Dex with the default. Only zod is imported, so validating a config does
 * not load a connector (see lazy-module.ts).
 */
import { z } from 'zod';

/** `schema`, optional, with "" read as not set (as Dex reads a Go string's zero value). */
export function unsetWhenEmpty<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema.optional());
}

/**
 * A key Dex would read as not set when "", refused instead, because its default changes whom the
 * broker trusts (github.com for an Enterprise host, a public GitLab for a private one, the
 * default proxy header): the config error says what "" meant in Dex and how to ask for it.
 */
export function nonEmpty(dexDefault: string) {
  return z.string().min(1, `is empty; Dex reads "" as not set (${dexDefault}): leave the key out for that`);
}
