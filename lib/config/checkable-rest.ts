/**
 * What can still be checked in a config that failed the schema, so connector configs, clients and
 * the cross-field rules are reported in the same run as the schema's issues.
 */
import type { z } from 'zod';
import { configSchema, type DexConfig } from './schema.js';
import { isObject } from './yaml.js';

export interface CheckableConfig {
  config: DexConfig;
  /** False when `issuer` itself is invalid: checks that compare URLs with it are skipped. */
  issuerValid: boolean;
  /** Maps a path in `config` back to the file's (entries that failed are left out of arrays). */
  originalPath: (path: string) => string;
}

const ENTRY_LISTS = ['connectors', 'staticClients', 'staticPasswords'] as const;

/**
 * The part of a config that failed the schema which can still be checked: list entries that
 * failed are left out (their issues are already reported), other top-level keys that failed are
 * dropped, and a failed `issuer` or `storage` gets a stand-in. Undefined when nothing useful is
 * left (the file is not a mapping).
 */
export function checkableRest(expanded: unknown, error: z.ZodError): CheckableConfig | undefined {
  if (!isObject(expanded)) return undefined;
  const rest: Record<string, unknown> = { ...expanded };
  const failedEntries = new Map<string, Set<number>>();
  let issuerValid = true;
  for (const issue of error.issues) {
    const where = issue.code === 'unrecognized_keys' && issue.path.length === 0 ? issue.keys : [issue.path[0]];
    for (const key of where) {
      if (typeof key !== 'string') return undefined;
      const index = issue.path[1];
      if ((ENTRY_LISTS as readonly string[]).includes(key) && Array.isArray(rest[key]) && typeof index === 'number') {
        failedEntries.set(key, (failedEntries.get(key) ?? new Set()).add(index));
      } else if (key === 'issuer') {
        rest.issuer = 'http://issuer.invalid/';
        issuerValid = false;
      } else if (key === 'storage') {
        rest.storage = { type: 'memory' };
      } else {
        delete rest[key];
      }
    }
  }
  const kept = new Map<string, number[]>();
  for (const [key, failed] of failedEntries) {
    const entries = rest[key] as unknown[];
    const originals = entries.map((_e, i) => i).filter((i) => !failed.has(i));
    kept.set(key, originals);
    rest[key] = originals.map((i) => entries[i]);
  }
  const reparsed = configSchema.safeParse(rest);
  if (!reparsed.success) return undefined;
  const originalPath = (path: string) =>
    path.replace(/^(connectors|staticClients|staticPasswords)\[(\d+)\]/, (m, key: string, i: string) => {
      const original = kept.get(key)?.[Number(i)];
      return original === undefined ? m : `${key}[${original}]`;
    });
  return { config: reparsed.data, issuerValid, originalPath };
}
