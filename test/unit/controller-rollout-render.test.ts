import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRollout } from '../../controller/rollout/lifecycle.js';
import { RolloutPolicySchema, type Rollout } from '../../controller/rollout/policy.js';
import { formatRollout } from '../../controller/rollout/render.js';
import { withRolloutWaves } from '../../controller/rollout/view.js';

const at = (s: number) => new Date(Date.parse('2026-11-22T12:00:00Z') + s * 1000);
const HOSTS = Array.from({ length: 10 }, (_, i) => `web-${i}`);

function midway(): Rollout {
  const rollout = createRollout('spring', Object.fromEntries(HOSTS.map((h) => [h, 2])), RolloutPolicySchema.parse({ canary: 1, waves: 3 }), at(0));
  const waves = rollout.waves.map((wave, i) =>
    i === 0 ? { ...wave, releasedAt: at(0).toISOString(), completedAt: at(400).toISOString() } : i === 1 ? { ...wave, releasedAt: at(400).toISOString() } : wave,
  );
  return { ...rollout, waves };
}
const progress = { index: 1, confirmed: ['web-1'], pending: ['web-2'], unhealthy: [{ host: 'web-3', why: 'rolled-back (rolled-back)' }] };

describe('rollout status rendering', () => {
  it('draws a progress bar per wave on a terminal', () => {
    assert.equal(
      formatRollout(midway(), progress, true),
      'rollout spring: running\n' +
        '  canary   [####################] 1/1 confirmed, done\n' +
        '  wave 1   [#######.............] 1/3 confirmed, out; pending web-2; unhealthy web-3 (rolled-back (rolled-back))\n' +
        '  wave 2   [....................] 0/3 confirmed, held\n' +
        '  wave 3   [....................] 0/3 confirmed, held\n',
    );
  });
  it('prints plain lines, without bars or escape sequences, when not a terminal', () => {
    const text = formatRollout(midway(), progress, false);
    assert.equal(
      text,
      'rollout spring: running\n' +
        '  canary   1/1 confirmed, done\n' +
        '  wave 1   1/3 confirmed, out; pending web-2; unhealthy web-3 (rolled-back (rolled-back))\n' +
        '  wave 2   0/3 confirmed, held\n' +
        '  wave 3   0/3 confirmed, held\n',
    );
    assert.doesNotMatch(text, /\[|\u001b/);
  });
  it('escapes control characters the controller sent, line by line, keeping one line per wave', () => {
    const text = formatRollout({ ...midway(), state: 'halted', reason: 'web-3: \u001b[31mred\nforged line' }, null, false);
    assert.equal(text.split('\n').length, 6, 'a title, four waves and the final newline');
    assert.match(text, /^rollout spring: halted \(web-3: \\x1b\[31mred\\x0aforged line\)\n/);
  });
});

describe('status with a rollout', () => {
  const table = 'HOST   STATE\nweb-0  in-sync\n';
  const view = { rollout: midway(), progress };
  it('appends the waves with progress bars on a terminal', () => {
    assert.equal(withRolloutWaves(table, view, true), `${table}\n${formatRollout(midway(), progress, true)}`);
    assert.match(withRolloutWaves(table, view, true), /wave 1 {3}\[#######\.{13}\] 1\/3 confirmed/);
  });
  it('appends plain lines when not a terminal', () => {
    const text = withRolloutWaves(table, view, false);
    assert.equal(text, `${table}\n${formatRollout(midway(), progress, false)}`);
    assert.match(text, /\n {2}wave 1 {3}1\/3 confirmed, out/);
    assert.doesNotMatch(text, /\[#|\u001b/);
  });
  it('adds nothing when there is no rollout', () => {
    assert.equal(withRolloutWaves(table, null, true), table);
    assert.equal(withRolloutWaves(table, null, false), table);
  });
});
