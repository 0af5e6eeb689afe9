/**
 * Dex's `$VAR` expansion (`os.ExpandEnv`) of connector, storage and signer configs, so bcrypt
 * hashes in `staticPasswords` stay intact, and the names of the variables it found unset.
 */
import { isObject } from './yaml.js';
import type { Issue } from './issues.js';

/** Where `$VAR` expansion met an unset variable: dotted path of the value → variable names. */
export type UnsetVariables = Map<string, string[]>;

/** An issue on a value that `$VAR` expansion left empty says which variable is not set. */
export function namingUnsetVariables(issues: Issue[], unset: UnsetVariables): Issue[] {
  return issues.map((i) => {
    const names = unset.get(i.path);
    return names ? { ...i, message: `${i.message} (environment variable ${names.join(', ')} is not set)` } : i;
  });
}

/** Dex's `os.ExpandEnv` on the string values of connector, storage and signer configs (unless DEX_EXPAND_ENV is false). */
export function expandConfig(raw: unknown, env: NodeJS.ProcessEnv, unset: UnsetVariables): unknown {
  if (!isObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  const record = (path: string) => (name: string) => unset.set(path, [...(unset.get(path) ?? []), name]);
  if (isObject(out.storage) && isObject(out.storage.config)) {
    out.storage = { ...out.storage, config: expandEnv(out.storage.config, env, record, 'storage.config') };
  }
  if (isObject(out.signer) && isObject(out.signer.config)) {
    out.signer = { ...out.signer, config: expandEnv(out.signer.config, env, record, 'signer.config') };
  }
  if (Array.isArray(out.connectors)) {
    out.connectors = out.connectors.map((c: unknown, i) =>
      isObject(c) && isObject(c.config) ? { ...c, config: expandEnv(c.config, env, record, `connectors[${i}].config`) } : c,
    );
  }
  return out;
}

/**
 * `$VAR` and `${VAR}` in string values, as Go's os.ExpandEnv reads them: an unset variable becomes
 * '', a shell special character after `$` is a one-character name (`$1`, `$#`, `$$`), and `${}` or
 * an unclosed `${` is dropped. `onUnset(path)` is told, for the value at each dotted path, which
 * variables were not set.
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  onUnset: (path: string) => (name: string) => void = () => () => {},
  path = '',
): unknown {
  if (typeof value === 'string') {
    return goExpand(value, (name) => {
      const found = env[name];
      if (found === undefined) onUnset(path)(name);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, onUnset, `${path}[${i}]`));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, onUnset, path === '' ? k : `${path}.${k}`)]));
  return value;
}

const SHELL_SPECIAL = '*#$@!?-0123456789';

/** Go's os.Expand. */
function goExpand(s: string, lookup: (name: string) => string): string {
  let out = '';
  let from = 0;
  for (let j = 0; j < s.length - 1; j++) {
    if (s[j] !== '$') continue;
    out += s.slice(from, j);
    const [name, width] = shellName(s.slice(j + 1));
    if (name !== '') out += lookup(name);
    else if (width === 0) out += '$'; // `$` before no name stays
    j += width;
    from = j + 1;
  }
  return out + s.slice(from);
}

/** The variable name at the start of `s` (what follows a `$`) and how many characters it takes. */
function shellName(s: string): [string, number] {
  if (s[0] === '{') {
    if (s.length > 2 && SHELL_SPECIAL.includes(s[1]!) && s[2] === '}') return [s[1]!, 3];
    const close = s.indexOf('}', 1);
    if (close === -1) return ['', 1];
    return [s.slice(1, close), close + 1];
  }
  if (SHELL_SPECIAL.includes(s[0]!)) return [s[0]!, 1];
  const name = /^[A-Za-z0-9_]*/.exec(s)![0];
  return [name, name.length];
}

/** Dex's DEX_EXPAND_ENV feature flag (Go strconv.ParseBool; anything else keeps the default, on). */
export function expandsEnv(env: NodeJS.ProcessEnv): boolean {
  return !['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(env.DEX_EXPAND_ENV ?? '');
}
