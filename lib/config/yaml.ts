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
