/**
 * How much event-loop work per response the RS256 "75 % of the signing ceiling" target leaves on
 * this machine. No HTTP, no storage, no load generator: 32 lanes, each doing X µs of synchronous
 * work on the event loop around two sequential RSA-2048 signatures on libuv's thread pool (as a
 * dexpress token response does: the access token, then the ID token with its `at_hash`), against
 * the ceiling measured in the same run. An upper bound: a server also pays for its sockets and
 * shares the cores with the load generator.
 *
 *   node --import tsx bench/loop-budget.ts
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { measureCeiling, samplePayload } from './signing.js';

const LANES = 32;
const SECONDS = 3;
const WORK_US = [0, 50, 100, 150, 200, 250];

const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const input = Buffer.from(`eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(samplePayload)).toString('base64url')}`);
const signOnPool = () => new Promise<Buffer>((resolve, reject) => sign('sha256', input, key, (err, sig) => (err ? reject(err) : resolve(sig))));

function busy(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/** CPU seconds of this process's main thread (the event loop). */
function mainThreadSeconds(): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function responsesPerSecond(workUs: number): Promise<{ perSecond: number; loopMs: number }> {
  const end = performance.now() + SECONDS * 1000;
  const loop0 = mainThreadSeconds();
  let n = 0;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (performance.now() < end) {
        busy(workUs / 2);
        await signOnPool();
        busy(workUs / 4);
        await signOnPool();
        busy(workUs / 4);
        n++;
      }
    }),
  );
  return { perSecond: n / SECONDS, loopMs: ((mainThreadSeconds() - loop0) * 1000) / n };
}

await responsesPerSecond(0); // warm-up
const ceiling = await measureCeiling('RS256', 2000);
console.log(`RS256 signing ceiling ${ceiling.toFixed(0)} signatures/s: ${(ceiling / 2).toFixed(0)} two-signature responses/s\n`);
console.log('loop work µs/response   responses/s   / (ceiling/2)   event loop CPU ms/response');
for (const workUs of WORK_US) {
  const r = await responsesPerSecond(workUs);
  console.log(`${String(workUs).padStart(21)}   ${r.perSecond.toFixed(0).padStart(11)}   ${(r.perSecond / (ceiling / 2)).toFixed(2).padStart(13)}   ${r.loopMs.toFixed(3).padStart(26)}`);
}
