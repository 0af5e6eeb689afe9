/**
 * Profiles one load phase of the bench: `dexpress serve` under `--cpu-prof` on SQLite, then the
 * self time of the profile by function and by package. Before optimising anything, look here.
 *
 *   node --import tsx bench/profile.ts [RS256|ES256] [refresh|code]
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildDist, cpuProfFlags, load, profilePhase, runLoad, withDexpress, work } from './run.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const alg = process.argv[2] === 'RS256' ? 'RS256' : 'ES256';
const kind = process.argv[3] === 'code' ? 'code' : 'refresh';
const name = `profile-${alg}-${kind}`.toLowerCase();

function where(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const dist = /\/dist\/(lib|strategies)\/(.*)$/.exec(url);
  if (dist) return `${dist[1]}/${dist[2]}`;
  if (url.startsWith('node:')) return url;
  const lib = /\/(lib|strategies)\/(.*)$/.exec(url);
  if (lib) return `${lib[1]}/${lib[2]}`;
  return url === '' ? '(native/VM)' : url;
}

function summarise(file: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
  const total = profile.samples.length;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    const place = n.callFrame.functionName === '(idle)' ? '(idle)' : where(n.callFrame.url).replace(/^(lib|strategies)\/.*/, '$1').replace(/:.*/, '');
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([label, hits]) => `  ${((hits / total) * 100).toFixed(1).padStart(5)} %  ${label}`)
      .join('\n');
  return `self time by function (main thread; the thread pool's signing is not sampled):\n${top(byFunction, 30)}\n\nby place:\n${top(byPlace, 20)}`;
}

buildDist();
const { config, unit } = await profilePhase(name, kind);
const result = await withDexpress(name, config, alg, (server, origin) => runLoad(server, origin, load, unit), cpuProfFlags(name));
rmSync(work, { recursive: true, force: true });
console.log(`${alg} ${kind}: ${result.perSecond.toFixed(0)} req/s, p50 ${result.p50ms.toFixed(1)} ms, p99 ${result.p99ms.toFixed(1)} ms, errors ${result.errors}, server CPU ${result.serverCpuMsPerUnit.toFixed(3)} ms/request, event loop ${result.eventLoopCpuMsPerUnit.toFixed(3)} ms/request\n`);
console.log(summarise(join(import.meta.dirname, 'profiles', `${name}.cpuprofile`)));
