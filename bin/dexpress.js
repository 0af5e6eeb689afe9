#!/usr/bin/env node
// The dexpress command. Which code it runs:
// - an installed package (no tsconfig.json: `files` in package.json does not ship it) runs its
//   compiled `dist/`, which `npm pack` / `npm publish` build first (the `prepack` script);
// - a checkout of the repository (tsconfig.json present) runs the TypeScript sources through tsx,
//   so `npm start` on a fresh clone works without a build and never runs a stale `dist/`;
// - a package with no `dist/` (installed from a tree nobody built) falls back to tsx too.
import { existsSync } from 'node:fs';

const installed = !existsSync(new URL('../tsconfig.json', import.meta.url));
const built = existsSync(new URL('../dist/lib/cli.js', import.meta.url));

let cli, strategies;
if (installed && built) {
  cli = await import('../dist/lib/cli.js');
  strategies = await import('../dist/strategies/index.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../lib/cli.ts');
  strategies = await import('../strategies/index.ts');
}
// A command is done when runCli resolves (serve: after a signal and a clean shutdown); exit even
// if a library left a handle open.
process.exit(await cli.runCli(process.argv.slice(2), strategies.connectors));
