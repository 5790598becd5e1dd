// The fuzz properties as a normal test: a few hundred cases per parser (test/fuzz/run.ts runs 100,000).
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TARGETS } from './targets.js';

const RUNS = Number(process.env['TSDEPLOY_FUZZ_RUNS'] ?? '300');

describe('fuzzing every parser and decision that takes outside input', () => {
  for (const { name, property } of TARGETS) {
    it(`${name}: ${RUNS} cases, no crash and no forbidden acceptance`, () => fc.assert(property, { numRuns: RUNS }));
  }
});
