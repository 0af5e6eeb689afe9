#!/usr/bin/env node
// The dexpress command. In a checkout of the repository it runs the TypeScript sources through
// tsx (never a stale build); an installed package runs its compiled `dist/`.
import { existsSync } from 'node:fs';

let cli, strategies;
if (existsSync(new URL('../lib/cli.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../lib/cli.ts');
  strategies = await import('../strategies/index.ts');
} else {
  cli = await import('../dist/lib/cli.js');
  strategies = await import('../dist/strategies/index.js');
}
// A command is done when runCli resolves (serve: after a signal and a clean shutdown); exit even
// if a library left a handle open.
process.exit(await cli.runCli(process.argv.slice(2), strategies.connectors));
