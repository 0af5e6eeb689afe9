/**
 * The conformance suite needs no jest: run under node:test in a child process (the file
 * test/storage/memory.node-test.ts), every one of its tests passes on the memory backend.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from '@jest/globals';
import { describeStorage } from '../../lib/storage/conformance.js';
import { MemoryStorage } from '../../lib/storage/memory.js';

/** How many tests the suite defines, counted by handing it a framework that only counts. */
function suiteSize(): number {
  let tests = 0;
  describeStorage('count', async (now) => new MemoryStorage(now), {
    describe: (_name, body) => body(),
    test: () => tests++,
    afterEach: () => undefined,
  });
  return tests;
}

test('under node:test, the whole suite runs and passes on the memory backend', async () => {
  const expected = suiteSize();
  expect(expected).toBeGreaterThan(0);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/storage/memory.node-test.ts']).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`node --test failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  expect(stdout).toContain('storage conformance: memory');
  expect(stdout).toMatch(new RegExp(`^# tests ${expected}$`, 'm'));
  expect(stdout).toMatch(new RegExp(`^# pass ${expected}$`, 'm'));
  expect(stdout).toMatch(/^# fail 0$/m);
});
