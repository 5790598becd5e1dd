// `node --import tsx test/fuzz/run.ts [--runs 100000] [--seed N] [--only TEXT] [--path N] [--hang-seconds 10]`: every
// fuzz property, with counts. Prints one line per parser (cases run, crashes, slowest case) and exits 1 if any
// property failed; a case running past --hang-seconds ends the run as a hang (a crash), naming the case to replay
// with --path.
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { acceptedCases, slowestCase } from './property.js';
import { TARGETS } from './targets.js';
import { runningSeed, startWatchdog } from './watchdog.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, only: { type: 'string' }, path: { type: 'string' }, 'hang-seconds': { type: 'string', default: '10' } },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const hangSeconds = Number(values['hang-seconds']);
if (!Number.isSafeInteger(runs) || runs < 1) {
  process.stderr.write('--runs must be a positive whole number\n');
  process.exit(2);
}
if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 31) {
  process.stderr.write('--seed must be a whole number from 0 to 2147483647\n');
  process.exit(2);
}
if (!(hangSeconds > 0)) {
  process.stderr.write('--hang-seconds must be a positive number\n');
  process.exit(2);
}
if (values.path !== undefined && !/^\d+(:\d+)*$/.test(values.path)) {
  process.stderr.write('--path must be what a hang or a failure printed, e.g. 42 or 42:1:0\n');
  process.exit(2);
}
runningSeed(seed);
startWatchdog(hangSeconds * 1000, TARGETS.map((t) => t.name));

process.stdout.write(`fuzz: ${runs} cases per parser, seed ${seed}\n`);
let crashes = 0;
let total = 0;
const started = performance.now();
for (const { name, property } of TARGETS) {
  if (values.only !== undefined && !name.includes(values.only)) continue;
  const start = performance.now();
  const details = fc.check(property, { numRuns: runs, seed, endOnFailure: true, ...(values.path === undefined ? {} : { path: values.path }) });
  const seconds = (performance.now() - start) / 1000;
  total += details.numRuns;
  const failed = details.failed ? 1 : 0;
  crashes += failed;
  const slowest = (slowestCase.get(name) ?? 0).toFixed(1);
  const accepted = acceptedCases.get(name) ?? 0;
  process.stdout.write(`${name}: ${details.numRuns} cases (${accepted} accepted), ${failed} crash(es), ${seconds.toFixed(1)} s, slowest case ${slowest} ms\n`);
  if (details.failed) {
    process.stdout.write(`  counterexample: ${fc.stringify(details.counterexample)}\n  ${String(details.errorInstance)}\n  replay: --seed ${seed} --path ${details.counterexamplePath ?? ''}\n`);
  }
}
process.stdout.write(`total: ${total} cases, ${crashes} crash(es), ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(crashes === 0 ? 0 : 1);
