/** package.json: what a packed tarball holds is what its `exports` and `bin` need. */
import { readFileSync } from 'node:fs';
import { expect, test } from '@jest/globals';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  scripts: Record<string, string>;
  files: string[];
  exports: Record<string, string | Record<string, string>>;
};

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
