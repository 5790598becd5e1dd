// Rollout policy, waves and the advance/halt decision, by table, with an injected clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceRollout, type HostObservation } from '../../controller/rollout/advance.js';
import { controlRollout, createRollout, unreleasedHosts } from '../../controller/rollout/lifecycle.js';
import { planWaves } from '../../controller/rollout/plan.js';
import { RolloutPolicySchema, resolveAmount, type Rollout } from '../../controller/rollout/policy.js';

const HOSTS = Array.from({ length: 10 }, (_, i) => `web-${i}`);
const T0 = Date.parse('2026-11-22T12:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const policy = (fields: Record<string, unknown> = {}) => RolloutPolicySchema.parse({ canary: 1, waves: 3, bakeSeconds: 60, deadlineSeconds: 600, ...fields });

describe('planWaves', () => {
  const cases: [string, Record<string, unknown>, number[]][] = [
    ['canary 1, waves of 3', { canary: 1, waves: 3 }, [1, 3, 3, 3]],
    ['canary 2, waves of 50%', { canary: 2, waves: '50%' }, [2, 4, 4]],
    ['explicit sizes, the last repeated', { canary: 1, waves: [2, 5] }, [1, 2, 5, 2]],
    ['no canary, one wave', { canary: 0, waves: '100%' }, [10]],
  ];
  for (const [what, fields, sizes] of cases) {
    it(what, () => {
      const waves = planWaves(HOSTS, policy(fields));
      assert.deepEqual(waves.map((w) => w.length), sizes);
      assert.deepEqual(waves.flat().sort(), [...HOSTS].sort(), 'every host exactly once');
    });
  }
  it('puts named canaries first and groups in their order', () => {
    const waves = planWaves(HOSTS, policy({ canary: ['web-7'], waves: 10, groups: { db: ['web-3', 'web-4'] } }));
    assert.deepEqual(waves, [['web-7'], ['web-3', 'web-4'], ['web-0', 'web-1', 'web-2', 'web-5', 'web-6', 'web-8', 'web-9']]);
  });
  it('refuses a canary that is not in the release', () => {
    assert.throws(() => planWaves(HOSTS, policy({ canary: ['db-1'] })), /canary host\(s\) not in the release: db-1/);
  });
  it('rounds a percentage up, never to zero hosts', () => {
    assert.equal(resolveAmount('10%', 3), 1);
    assert.equal(resolveAmount('0%', 30), 0);
    assert.equal(resolveAmount(2, 30), 2);
  });
});

/** A fleet whose hosts report as the table says. */
function fleet() {
  const reports = new Map<string, HostObservation>();
  return {
    confirm(hosts: readonly string[], version: number, seconds: number) {
      for (const host of hosts) reports.set(host, { manifestVersion: version, outcome: 'success', phase: 'confirmed', receivedAt: at(seconds) });
    },
    rollBack(host: string, version: number, seconds: number) {
      reports.set(host, { manifestVersion: version, outcome: 'rolled-back', phase: 'rolled-back', receivedAt: at(seconds) });
    },
    observe: (host: string) => reports.get(host) ?? null,
  };
}

function started(fields: Record<string, unknown> = {}): Rollout {
  return createRollout('r1', Object.fromEntries(HOSTS.map((h) => [h, 7])), policy(fields), at(0));
}

describe('advanceRollout: 10 hosts, canary 1, waves of 3', () => {
  it('advances only on confirmed health and after the bake time, to completion', () => {
    const hosts = fleet();
    let step = advanceRollout(started(), hosts.observe, at(0));
    assert.deepEqual(step.release, ['web-0']);
    step = advanceRollout(step.rollout, hosts.observe, at(120));
    assert.deepEqual(step.release, [], 'the canary has not confirmed yet');
    hosts.confirm(['web-0'], 7, 130);
    step = advanceRollout(step.rollout, hosts.observe, at(130));
    assert.deepEqual(step.release, ['web-1', 'web-2', 'web-3'], 'confirmed and released 130 s ago: baked');
    hosts.confirm(['web-1', 'web-2', 'web-3'], 7, 150);
    step = advanceRollout(step.rollout, hosts.observe, at(160));
    assert.deepEqual(step.release, [], 'confirmed but not baked (30 s of 60)');
    step = advanceRollout(step.rollout, hosts.observe, at(191));
    assert.deepEqual(step.release, ['web-4', 'web-5', 'web-6']);
    hosts.confirm(['web-4', 'web-5', 'web-6'], 7, 200);
    step = advanceRollout(step.rollout, hosts.observe, at(260));
    assert.deepEqual(step.release, ['web-7', 'web-8', 'web-9']);
    hosts.confirm(['web-7', 'web-8', 'web-9'], 7, 270);
    step = advanceRollout(step.rollout, hosts.observe, at(330));
    assert.equal(step.rollout.state, 'completed');
  });

  it('halts with the reason when a host of a wave rolls back, and releases nothing more', () => {
    const hosts = fleet();
    let step = advanceRollout(started(), hosts.observe, at(0));
    hosts.rollBack('web-0', 7, 30);
    step = advanceRollout(step.rollout, hosts.observe, at(90));
    assert.equal(step.rollout.state, 'halted');
    assert.match(step.rollout.reason ?? '', /wave 1: 1 unhealthy \(at most 0\): web-0: rolled-back/);
    assert.deepEqual(advanceRollout(step.rollout, hosts.observe, at(9999)).release, []);
    assert.deepEqual(unreleasedHosts(step.rollout).length, 9);
  });

  it('counts a host silent past the deadline as unhealthy', () => {
    const hosts = fleet();
    const step = advanceRollout(advanceRollout(started(), hosts.observe, at(0)).rollout, hosts.observe, at(601));
    assert.match(step.rollout.reason ?? '', /web-0: no confirmation before the deadline/);
  });

  it('tolerates up to maxUnhealthy in a wave', () => {
    const hosts = fleet();
    let step = advanceRollout(started({ canary: 0, maxUnhealthy: 1 }), hosts.observe, at(0));
    assert.deepEqual(step.release, ['web-0', 'web-1', 'web-2']);
    hosts.confirm(['web-0', 'web-1'], 7, 10);
    hosts.rollBack('web-2', 7, 10);
    step = advanceRollout(step.rollout, hosts.observe, at(61));
    assert.equal(step.rollout.state, 'running');
    assert.deepEqual(step.release, ['web-3', 'web-4', 'web-5']);
  });

  it('ignores reports of another version', () => {
    const hosts = fleet();
    let step = advanceRollout(started(), hosts.observe, at(0));
    hosts.confirm(['web-0'], 6, 10);
    step = advanceRollout(step.rollout, hosts.observe, at(100));
    assert.deepEqual(step.release, []);
    assert.deepEqual(step.progress?.pending, ['web-0']);
  });
});

describe('pause, resume and abort', () => {
  it('pause holds the next wave; resume releases it', () => {
    const hosts = fleet();
    let rollout = advanceRollout(started(), hosts.observe, at(0)).rollout;
    hosts.confirm(['web-0'], 7, 10);
    rollout = controlRollout(rollout, 'pause', at(20));
    assert.deepEqual(advanceRollout(rollout, hosts.observe, at(100)).release, []);
    rollout = controlRollout(rollout, 'resume', at(110));
    assert.deepEqual(advanceRollout(rollout, hosts.observe, at(110)).release, ['web-1', 'web-2', 'web-3']);
  });
  it('abort releases nothing more and cannot be undone', () => {
    const rollout = controlRollout(advanceRollout(started(), fleet().observe, at(0)).rollout, 'abort', at(5));
    assert.equal(rollout.state, 'aborted');
    assert.deepEqual(advanceRollout(rollout, fleet().observe, at(1000)).release, []);
    assert.throws(() => controlRollout(rollout, 'resume', at(6)), /is aborted; nothing to resume/);
  });
  it('refuses to pause what is not running', () => {
    const paused = controlRollout(started(), 'pause', at(1));
    assert.throws(() => controlRollout(paused, 'pause', at(2)), /is paused, not running/);
  });
});
