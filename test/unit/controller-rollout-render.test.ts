import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRollout } from '../../controller/rollout/lifecycle.js';
import { RolloutPolicySchema, type Rollout } from '../../controller/rollout/policy.js';
import { formatRollout } from '../../controller/rollout/render.js';

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
});
