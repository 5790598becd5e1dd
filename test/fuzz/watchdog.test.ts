// The fuzz watchdog: a case that never returns ends the run as a hang, naming the target, the case, the seed to
// replay it with and the slowest case that finished, instead of stalling the run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('fuzz watchdog', () => {
  it('ends a run whose case hangs, counted as a crash, with the case to replay', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/fuzz/hang-fixture.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.signal, 'SIGKILL', `${run.stdout}${run.stderr}`);
    assert.doesNotMatch(run.stdout, /the run ended/);
    assert.match(run.stderr, /hang: hanging fixture: case 3 has run \d+\.\d s \(budget 0\.3 s; slowest finished case [5-9]\d ms\), counted as a crash/);
    assert.match(run.stderr, /replay: node --import tsx test\/fuzz\/run\.ts --only 'hanging fixture' --seed 7 --path 3/);
  });
});
