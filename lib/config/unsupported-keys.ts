/** Dex keys dexpress does not support: set, they are ignored with a warning. */
import { unsupportedKeys, type DexConfig } from './schema.js';
import { isObject } from './yaml.js';

/** One warning for each place the config sets a key dexpress does not support. */
export function unsupportedKeyWarnings(config: DexConfig): string[] {
  return unsupportedKeys.flatMap((k) => pathsSet(config, k)).map((k) => `${k} is not supported by dexpress and is ignored`);
}

/** The paths where `dotted` (`a.b`, or `list[].key` for any entry of a list) is set in `obj`. */
function pathsSet(obj: unknown, dotted: string, prefix = ''): string[] {
  const [head = '', ...rest] = dotted.split('.');
  const list = head.endsWith('[]') ? head.slice(0, -2) : undefined;
  const value = isObject(obj) ? obj[list ?? head] : undefined;
  const here = prefix === '' ? (list ?? head) : `${prefix}.${list ?? head}`;
  if (value === undefined) return [];
  if (list !== undefined) return Array.isArray(value) ? value.flatMap((v, i) => pathsSet(v, rest.join('.'), `${here}[${i}]`)) : [];
  return rest.length === 0 ? [here] : pathsSet(value, rest.join('.'), here);
}
