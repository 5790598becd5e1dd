// Realise progress by tables: the dry run's plan, Nix's "copying path" lines, the figures, and when one is reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkValidityArgs, parseFetchPlan, querySizeArgs } from '../../agent/adapters/nix.js';
import { copyingPath, progressDue, progressOf, type FetchPlan } from '../../agent/core/realise-progress.js';
import type { RealiseProgress } from '../../shared/report.js';

const A = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-blob';
const B = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-lab-service';
const C = '/nix/store/2c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-large';
const DRV = '/nix/store/3c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-thing.drv';

describe('the fetch plan from the dry run', () => {
  it('lists the paths under "will be fetched" with the unpacked total, not those to be built', () => {
    const out = `these 1 derivations will be built:\n  ${DRV}\nthese 3 paths will be fetched (16.01 MiB download, 16.02 MiB unpacked):\n  ${A}\n  ${B}\n  ${C}\n`;
    assert.deepEqual(parseFetchPlan(out), { paths: [A, B, C], bytesTotal: Math.round(16.02 * 1048576) });
  });
  it('has none when nothing is fetched', () => {
    assert.equal(parseFetchPlan(''), null);
  });
  it('asks Nix by argv which paths are valid and how big they are', () => {
    assert.deepEqual(checkValidityArgs([A, B]), ['nix-store', '--check-validity', '--print-invalid', A, B]);
    assert.deepEqual(querySizeArgs([A]), ['nix-store', '--query', '--size', A]);
  });
});

describe('realise progress', () => {
  const plan: FetchPlan = { paths: [A, B, C], bytesTotal: 1000 };

  it('reads the path of a "copying path" line and nothing else', () => {
    assert.equal(copyingPath(`copying path '${A}' from 'http://10.213.7.1:8080'...`), A);
    assert.equal(copyingPath(`  copying path '${B}' from 'file:///cache'...`), B);
    assert.equal(copyingPath('these 3 paths will be fetched (16.01 MiB download, 16.02 MiB unpacked):'), null);
    assert.equal(copyingPath(`building '${DRV}'...`), null);
  });

  const table: Array<[string, Map<string, number>, number, 'no' | 'ok' | 'failed', RealiseProgress]> = [
    ['nothing yet', new Map(), 0, 'no', { pathsDone: 0, pathsTotal: 3, bytesDone: 0, bytesTotal: 1000, finished: false }],
    ['one path done, one half there', new Map([[B, 100]]), 400, 'no', { pathsDone: 1, pathsTotal: 3, bytesDone: 500, bytesTotal: 1000, finished: false }],
    ['more than the rounded total', new Map([[A, 900], [B, 100], [C, 20]]), 0, 'no', { pathsDone: 3, pathsTotal: 3, bytesDone: 1000, bytesTotal: 1000, finished: false }],
    ['a path outside the plan does not count', new Map([['/nix/store/9c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-other', 50]]), 0, 'no', { pathsDone: 0, pathsTotal: 3, bytesDone: 0, bytesTotal: 1000, finished: false }],
    ['finished: all of it', new Map([[B, 100]]), 0, 'ok', { pathsDone: 3, pathsTotal: 3, bytesDone: 1000, bytesTotal: 1000, finished: true }],
    ['failed: what got there', new Map([[B, 100]]), 0, 'failed', { pathsDone: 1, pathsTotal: 3, bytesDone: 100, bytesTotal: 1000, finished: true }],
  ];
  for (const [name, done, inFlightBytes, finished, expected] of table) {
    it(name, () => assert.deepEqual(progressOf(plan, { done, inFlightBytes }, finished), expected));
  }

  it('reports the first figure, then a change at most once per interval, and always the last', () => {
    const p = (bytesDone: number, finished = false): RealiseProgress => ({ pathsDone: 0, pathsTotal: 3, bytesDone, bytesTotal: 1000, finished });
    const last = { atMs: 10_000, progress: p(100) };
    const table: Array<[string, Parameters<typeof progressDue>[0], RealiseProgress, number, boolean]> = [
      ['the first', null, p(0), 0, true],
      ['a change within the interval', last, p(200), 12_000, false],
      ['a change after the interval', last, p(200), 13_000, true],
      ['no change after the interval', last, p(100), 20_000, false],
      ['the last, within the interval', last, p(1000, true), 10_500, true],
    ];
    for (const [name, before, next, now, due] of table) assert.equal(progressDue(before, next, now, 3000), due, name);
  });
});
