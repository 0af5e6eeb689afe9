/**
 * Dex reads its config with yaml.v2 (YAML 1.1) through ghodss/yaml: `yes`/`no`/`on`/`off`/`y`/`n`
 * are booleans and `0123` is octal. yaml.v2 hands timestamps to an untyped target as strings and
 * knows no sexagesimal numbers, so those 1.1 types are left out: `2024-01-01` and `12:30` stay
 * strings, as in Dex.
 */
import { parse } from 'yaml';

const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';
const LEFT_OUT = ['timestamp', 'intTime', 'floatTime'];

export function parseDexYaml(text: string): unknown {
  return parse(text, {
    version: '1.1',
    customTags: (tags) =>
      tags.filter((t) => (typeof t === 'string' ? !LEFT_OUT.includes(t) : t.tag !== TIMESTAMP_TAG && !('format' in t && t.format === 'TIME'))),
  });
}

/**
 * A key whose value is YAML `null` (`connectors:` with nothing under it, a block whose sub-keys
 * are all commented out) is not set, as for Dex, which decodes the file with encoding/json.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

/** A mapping of the parsed document (not a list, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
