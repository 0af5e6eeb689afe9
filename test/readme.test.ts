/** README.md keeps its promises: the two commands first, and every connector's section. */
import { readFileSync } from 'node:fs';
import { expect, test } from '@jest/globals';
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
