// `node --import tsx test/fuzz/run.ts [--runs 100000] [--seed N] [--only TEXT]`: every fuzz property, with counts.
// Prints one line per parser (cases run, crashes, slowest case) and exits 1 if any property failed.
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { acceptedCases, slowestCase } from './property.js';
import { TARGETS } from './targets.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, only: { type: 'string' } } });
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!Number.isSafeInteger(runs) || runs < 1) {
  process.stderr.write('--runs must be a positive whole number\n');
  process.exit(2);
}

process.stdout.write(`fuzz: ${runs} cases per parser, seed ${seed}\n`);
let crashes = 0;
let total = 0;
const started = performance.now();
for (const { name, property } of TARGETS) {
  if (values.only !== undefined && !name.includes(values.only)) continue;
  const start = performance.now();
  const details = fc.check(property, { numRuns: runs, seed, endOnFailure: true });
  const seconds = (performance.now() - start) / 1000;
  total += details.numRuns;
  const failed = details.failed ? 1 : 0;
  crashes += failed;
  const slowest = (slowestCase.get(name) ?? 0).toFixed(1);
  const accepted = acceptedCases.get(name) ?? 0;
  process.stdout.write(`${name}: ${details.numRuns} cases (${accepted} accepted), ${failed} crash(es), ${seconds.toFixed(1)} s, slowest case ${slowest} ms\n`);
  if (details.failed) {
    process.stdout.write(`  counterexample: ${fc.stringify(details.counterexample)}\n  ${String(details.errorInstance)}\n`);
  }
}
process.stdout.write(`total: ${total} cases, ${crashes} crash(es), ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(crashes === 0 ? 0 : 1);
