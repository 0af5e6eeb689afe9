/** package.json: what a packed tarball holds is what its `exports` and `bin` need. */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@jest/globals';
import { describeStorage } from '../lib/storage/conformance.js';
import { MemoryStorage } from '../lib/storage/memory.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  scripts: Record<string, string>;
  files: string[];
  exports: Record<string, string | Record<string, string>>;
};

const run = promisify(execFile);

test('every exports target is in a shipped folder, and dist/ is built before packing (prepack)', () => {
  expect(pkg.scripts.prepack).toBe('npm run build');
  expect(pkg.scripts.build).toContain('tsc');
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
  for (const t of targets) {
    const top = t.replace(/^\.\//, '').split('/')[0]!;
    expect(top === 'package.json' || pkg.files.includes(top)).toBe(true);
  }
});

test('tsconfig.json is not shipped: bin/dexpress.js takes its absence for an installed package and runs dist/', () => {
  expect(pkg.files).not.toContain('tsconfig.json');
  expect(readFileSync('bin/dexpress.js', 'utf8')).toContain("'../tsconfig.json'");
});

test('the packed package holds every exports target, and dexpress/storage-conformance imports, type-checks and runs under node:test', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dexpress-pack-'));
  try {
    // Packed from a copy of the sources, so that prepack's build leaves this checkout's dist/ alone.
    const src = join(dir, 'src');
    for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', ...pkg.files.filter((f) => f !== 'dist')]) cpSync(f, join(src, f), { recursive: true });
    symlinkSync(resolve('node_modules'), join(src, 'node_modules'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: src });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];

    // Installed as an app would have it: node_modules/dexpress, and none of its dependencies.
    const app = join(dir, 'app');
    const installed = join(app, 'node_modules', 'dexpress');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', join(dir, filename), '-C', installed, '--strip-components=1']);
    const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
    const missing = targets.map((t) => t.replace('*', 'github')).filter((t) => !existsSync(join(installed, t)));
    expect(missing).toEqual([]);

    // The types entry: describeStorage is typed (the framework argument is required), not `any`.
    writeFileSync(
      join(app, 'check.mts'),
      [
        "import { describeStorage, type TestFramework } from 'dexpress/storage-conformance';",
        'declare const open: Parameters<typeof describeStorage>[1];',
        'declare const framework: TestFramework;',
        "describeStorage('mine', open, framework);",
        '// @ts-expect-error: the framework is required',
        "describeStorage('mine', open);",
      ].join('\n'),
    );
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', types: [], noEmit: true }, files: ['check.mts'] }));
    await run(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app }).catch((err: { stdout?: string; message: string }) => {
      throw new Error(`tsc on the packed types failed: ${err.message}\n${err.stdout ?? ''}`);
    });

    // The default entry: the suite, from the package, under node:test, on the packed memory backend.
    writeFileSync(
      join(app, 'conformance.test.mjs'),
      [
        "import { afterEach, describe, test } from 'node:test';",
        "import { describeStorage } from 'dexpress/storage-conformance';",
        "import { MemoryStorage } from './node_modules/dexpress/dist/lib/storage/memory.js';",
        "describeStorage('packed memory', async (now) => new MemoryStorage(now), { describe, test, afterEach });",
      ].join('\n'),
    );
    const { stdout } = await run(process.execPath, ['--test', '--test-reporter=tap', 'conformance.test.mjs'], { cwd: app }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`node --test failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    });
    expect(stdout).toContain('storage conformance: packed memory');
    expect(stdout).toMatch(new RegExp(`^# pass ${suiteSize()}$`, 'm'));
    expect(stdout).toMatch(/^# fail 0$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

/** How many tests the conformance suite defines, counted by handing it a framework that only counts. */
function suiteSize(): number {
  let tests = 0;
  describeStorage('count', async (now) => new MemoryStorage(now), { describe: (_name, body) => body(), test: () => tests++, afterEach: () => undefined });
  return tests;
}
