/**
 * Profiles one load phase with Linux `perf` (all threads of `dexpress serve`, native frames
 * included), where `bench/profile.ts` (`--cpu-prof`) sees only the event loop's JavaScript: this
 * one shows the thread pool's signatures next to everything else. Needs `perf` (Debian
 * `linux-perf`) and permission to attach to the server.
 *
 *   node --import tsx bench/perf-profile.ts [RS256|ES256] [refresh|code]
 *   PERF_MAIN=1 ...   the event loop's thread only (percentages stay of all samples)
 *   PERF_KEEP=1 ...   keep the work directory with perf.data (for `perf report --sort pid`, ...)
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildDist, load, profilePhase, runLoad, withDexpress, work } from './run.js';

const alg = process.argv[2] === 'ES256' ? 'ES256' : 'RS256';
const kind = process.argv[3] === 'code' ? 'code' : 'refresh';
const data = join(work, 'perf.data');

buildDist();
const { config, unit } = await profilePhase(`perf-${kind}`, kind);
// --perf-basic-prof lets perf name the JIT-compiled JavaScript frames.
const report = await withDexpress(`perf-${kind}`, config, alg, async (server, origin) => {
  // Three seconds in the middle of the phase (after the warm-up).
  const perf = new Promise<number | null>((resolve) => {
    setTimeout(() => {
      const p = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(server.pid), '-o', data, '--', 'sleep', '3'], { stdio: 'ignore' });
      p.once('exit', resolve);
      p.once('error', () => resolve(null));
    }, load.warmupMs + 500);
  });
  const r = await runLoad(server, origin, load, unit);
  if ((await perf) !== 0) return 'perf record failed (is perf installed, and may it attach to the server?)';
  const head = `${alg} ${kind}: ${r.perSecond.toFixed(0)} req/s, server CPU ${r.serverCpuMsPerUnit.toFixed(3)} ms/request, event loop ${r.eventLoopCpuMsPerUnit.toFixed(3)} ms/request`;
  const top = spawnSync('perf', ['report', '-i', data, '--no-children', '-g', 'none', '--sort', 'dso,sym', '--stdio', ...(process.env.PERF_MAIN ? ['--tid', String(server.pid)] : [])], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const lines = top.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return `${head}\n\nself time by symbol, ${process.env.PERF_MAIN ? 'the main thread' : 'every thread of the server'}:\n${lines.slice(0, 40).join('\n')}`;
}, ['--perf-basic-prof']);
if (!process.env.PERF_KEEP) rmSync(work, { recursive: true, force: true });
console.log(report);
