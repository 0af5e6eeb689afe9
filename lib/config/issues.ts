/**
 * A config problem and its dotted path (`connectors[2].config.userSearch.baseDN`), as every check
 * of the config reports it.
 */
import type { z } from 'zod';
import { sameKeyInOtherCase } from './key-case.js';

export type Issue = { path: string; message: string };

/** A connector's issues (paths relative to its `config`) under `connectors[i].config`. */
export function issuesUnder(prefix: string, issues: readonly Issue[]): Issue[] {
  return issues.map((i) => ({ ...i, path: i.path === '' ? prefix : i.path.startsWith('[') ? `${prefix}${i.path}` : `${prefix}.${i.path}` }));
}

/** `schema`, the one that failed, lets an unknown key be told the key it spells in another case. */
export function zodIssues(error: z.ZodError, prefix: string, schema?: z.ZodType): Issue[] {
  const join = (base: string, key: PropertyKey) => (typeof key === 'number' ? `${base}[${key}]` : base === '' ? String(key) : `${base}.${String(key)}`);
  return error.issues.flatMap((issue) => {
    const path = issue.path.reduce<string>(join, prefix);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => {
        const known = schema && sameKeyInOtherCase(schema, issue.path, k);
        const message = known ? `unknown key: write it "${known}" (Dex matches keys in any letter case, dexpress as written)` : 'unknown key';
        return { path: join(path, k), message };
      });
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) message = 'is required';
    else if (issue.code === 'invalid_type' && /expected string, received (boolean|number)/.test(issue.message)) {
      // YAML 1.1 (as Dex reads it): unquoted yes/no/on/off/true/false are booleans, 0123 or 1_000 numbers.
      message = `${issue.message}: quote the value (unquoted yes, no, on, off and numbers are not strings in YAML)`;
    }
    else if (issue.code === 'invalid_value' && 'values' in issue) message = `must be one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    return [{ path, message }];
  });
}
