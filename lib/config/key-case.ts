/**
 * Dex reads its config with encoding/json, which matches keys in any letter case (`clientId` for
 * `clientID`, `redirectUris` for `redirectURIs`). dexpress reads keys only as written; for an
 * unknown key this finds the key it differs from only in case, so the error can name it.
 */
import type { z } from 'zod';

/** The parts of a zod 4 schema definition that lead to the object at a path. */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: readonly z.ZodType[];
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The keys of the object schemas `schema` can be at `path` (empty when it is not an object there). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = defOf(schema);
  const [head, ...rest] = path;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return def.innerType ? keysAt(def.innerType, path) : [];
    case 'pipe':
      return [...(def.in ? keysAt(def.in, path) : []), ...(def.out ? keysAt(def.out, path) : [])];
    case 'union':
      return (def.options ?? []).flatMap((o) => keysAt(o, path));
    case 'array':
      return typeof head === 'number' && def.element ? keysAt(def.element, rest) : [];
    case 'record':
      return head !== undefined && def.valueType ? keysAt(def.valueType, rest) : [];
    case 'object': {
      if (head === undefined) return Object.keys(def.shape ?? {});
      const next = typeof head === 'string' ? def.shape?.[head] : undefined;
      return next ? keysAt(next, rest) : [];
    }
    default:
      return [];
  }
}

/** The key of the object at `path` that `key` spells in another letter case, if any. */
export function sameKeyInOtherCase(schema: z.ZodType, path: readonly PropertyKey[], key: string): string | undefined {
  return keysAt(schema, path).find((k) => k !== key && k.toLowerCase() === key.toLowerCase());
}
