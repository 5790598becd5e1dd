// The watchdog's thread (see watchdog.ts): it shares nothing with the fuzz thread but memory, so it runs while
// a case is stuck, and writes with writeSync because the blocked thread would never flush a stream.
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { SLOTS, type WatchdogData } from './watchdog.js';

const data = workerData as WatchdogData;
const counters = new Int32Array(data.counters);
const started = new BigInt64Array(data.started);

setInterval(() => {
  const since = Number(Atomics.load(started, 0));
  if (since === 0 || Date.now() - since <= data.budgetMs) return;
  const name = data.names[Atomics.load(counters, SLOTS.target)] ?? 'unknown target';
  const caseNumber = Atomics.load(counters, SLOTS.caseNumber);
  const seed = Atomics.load(counters, SLOTS.seed);
  writeSync(
    2,
    `hang: ${name}: case ${caseNumber} has run ${((Date.now() - since) / 1000).toFixed(1)} s (budget ${(data.budgetMs / 1000).toFixed(1)} s; ` +
      `slowest finished case ${Atomics.load(counters, SLOTS.slowestMs)} ms), counted as a crash\n` +
      `  replay: node --import tsx test/fuzz/run.ts --only '${name}' --seed ${seed} --path ${caseNumber}\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}, Math.min(250, data.budgetMs / 4));
