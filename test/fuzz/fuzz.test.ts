// The fuzz properties as a normal test: a few hundred cases per parser (test/fuzz/run.ts runs 100,000), each
// watched: a case that runs past 10 s ends the run as a hang, with the seed and case to replay.
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { TARGETS } from './targets.js';
import { runningSeed, startWatchdog } from './watchdog.js';

const RUNS = Number(process.env['TSDEPLOY_FUZZ_RUNS'] ?? '300');
const SEED = Number(process.env['TSDEPLOY_FUZZ_SEED'] ?? Date.now() % 2 ** 31);
const HANG_MS = 10_000;

describe('fuzzing every parser and decision that takes outside input', () => {
  before(() => {
    runningSeed(SEED);
    startWatchdog(HANG_MS, TARGETS.map((t) => t.name));
  });
  for (const { name, property } of TARGETS) {
    it(`${name}: ${RUNS} cases, no crash, no hang and no forbidden acceptance (seed ${SEED})`, () => fc.assert(property, { numRuns: RUNS, seed: SEED }));
  }
});
