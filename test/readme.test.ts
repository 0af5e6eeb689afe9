/** README.md keeps its promises: the two commands first, and every connector's section. */
import { readFileSync } from 'node:fs';
import { expect, test } from '@jest/globals';
import { z } from 'zod';
import { configSchema } from '../lib/config/schema.js';
import { connectorModules } from '../strategies/index.js';
// @ts-expect-error: a plain .mjs script without types
import { connectorSections, storageSection } from '../.ci/sync-readme.mjs';

const readme = readFileSync('README.md', 'utf8');

test('the first lines are the two commands a newcomer runs', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
  expect(firstBlock).toContain('npm install && npm start');
  expect(firstBlock).toContain('.ci/run');
  expect(readFileSync('.ci/run', 'utf8')).toContain('npm test');
});

test('every connector section of strategies/*/README.md is in README.md (npm run docs:readme)', () => {
  expect(readme).toContain((connectorSections as (root?: string) => string)('.'));
});

test('the storage section is lib/storage/README.md (npm run docs:readme)', () => {
  expect(readme).toContain((storageSection as (root?: string) => string)('.'));
});

const section = (title: string) => {
  const start = readme.indexOf(`\n## ${title}`);
  return readme.slice(start, readme.indexOf('\n## ', start + 1));
};

test('"Handing an existing Passport strategy" names exactly the types that can take one over (fromPassportUser)', () => {
  const text = section('Handing an existing Passport strategy to the broker');
  const named = /types that can take over a strategy are[^:]*:([\s\S]*?); any other type/.exec(text)![1]!;
  const types = [...named.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]).sort();
  expect(types).toEqual(connectorModules.filter((m) => m.fromPassportUser).map((m) => m.type).sort());
  expect(text).not.toContain('...profile');
});

test('the Configuration table mentions every key of the config schema', () => {
  const text = section('Configuration');
  const missing = leafKeys(configSchema).filter((key) => !new RegExp(`[\`{,. ]${key}[\`},. []`).test(text));
  expect(missing).toEqual([]);
});

/** Key names of a zod object schema, nested objects and arrays of objects included. */
function leafKeys(schema: z.ZodType): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodArray) return leafKeys(s.element as z.ZodType);
  if (!(s instanceof z.ZodObject)) return [];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => [k, ...leafKeys(v)]);
}
