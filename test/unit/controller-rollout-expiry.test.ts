import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expiryWarning, plannedRolloutMs } from '../../controller/rollout/expiry.js';
import { RolloutPolicySchema } from '../../controller/rollout/policy.js';

const HOSTS = Array.from({ length: 10 }, (_, i) => `web-${i}`);
const policy = RolloutPolicySchema.parse({ canary: 1, waves: 3, bakeSeconds: 1800, deadlineSeconds: 1800 });

describe('manifest expiry against a rollout', () => {
  it('plans waves × (deadline + bake time) (canary 1, waves of 3 over 10 hosts: 4 waves)', () => {
    assert.deepEqual(plannedRolloutMs(HOSTS, policy), { waves: 4, ms: 4 * 3_600_000 });
  });
  it('warns when the manifests expire before the rollout can finish, and is quiet when they outlast it', () => {
    assert.match(expiryWarning(3 * 3_600_000, HOSTS, policy) ?? '', /expire in 3 h, but the rollout's 4 waves × \(1800 s deadline \+ 1800 s bake\) may take 4 h/);
    assert.equal(expiryWarning(5 * 3_600_000, HOSTS, policy), null);
  });
});
