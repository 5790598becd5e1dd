// Probation's decisions as tables: which effect each phase does, what each event leads to, and reboots.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_JOURNAL, type Deployment, type Journal } from '../../agent/core/journal.js';
import { REBOOTED_IN_PROBATION } from '../../agent/core/probation.js';
import { announce, effectFor, step, type Event, type Policy } from '../../agent/core/step.js';

const NOW = new Date('2026-11-21T12:00:00Z');
const OLD = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-old';
const NEW = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-new';
const POLICY: Policy = { onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true, maxResumes: 3, probation: true };
const PREVIOUS = { generation: 4, path: OLD, currentSystem: OLD };

function at(phase: Deployment['phase'], overrides: Partial<Deployment> = {}): Journal {
  return {
    ...EMPTY_JOURNAL,
    lastAccepted: { version: 7, digest: 'd' },
    deployment: {
      version: 7, storePath: NEW, activation: 'switch', phase, previous: PREVIOUS, generation: null, reason: null,
      probation: true, bootId: 'b1', resumes: 0, startedAt: NOW.toISOString(), updatedAt: NOW.toISOString(), ...overrides,
    },
  };
}

describe('probation: step', () => {
  it('marks switch manifests for probation when the policy asks, and only those', () => {
    const manifest = { host: 'web-1', version: 7, issuedAt: '2026-11-21T11:00:00Z', expiresAt: '2026-11-28T11:00:00Z', system: 'x86_64-linux', storePath: NEW };
    const table = [
      ['switch', true, true],
      ['switch', false, undefined],
      ['test', true, undefined],
      ['boot', true, undefined],
    ] as const;
    for (const [activation, probation, marked] of table) {
      const result = step(EMPTY_JOURNAL, { type: 'manifest', manifest: { ...manifest, activation }, digest: 'd', currentSystem: OLD }, NOW, { ...POLICY, probation });
      assert.equal(result.journal.deployment?.probation, marked, `${activation} ${String(probation)}`);
    }
  });

  const table: Array<[Deployment['phase'], Event, Deployment['phase'], string | null]> = [
    ['realising', { type: 'realised', previous: PREVIOUS, bootId: 'b1' }, 'realised', 'probation'],
    ['probation', { type: 'activated' }, 'checking-health', 'check-health'],
    ['checking-health', { type: 'healthy', results: [] }, 'staging-boot', 'stage-boot'],
    ['staging-boot', { type: 'boot-staged', generation: 5 }, 'confirmed', null],
    ['probation', { type: 'activation-failed', error: 'exit 4' }, 'rolling-back', 'rollback'],
    ['checking-health', { type: 'unhealthy', results: [], reason: 'health check failed', controllerUnreachable: false }, 'rolling-back', 'rollback'],
    ['staging-boot', { type: 'activation-failed', error: 'boot entry' }, 'rolling-back', 'rollback'],
  ];
  for (const [from, event, to, effect] of table) {
    it(`${from} + ${event.type} → ${to}${effect === null ? '' : ` then ${effect}`}`, () => {
      const result = step(at(from), event, NOW, POLICY);
      assert.equal(result.journal.deployment?.phase, to);
      assert.equal(result.effect?.type ?? null, effect);
    });
  }

  it('announces probation before the test run and staging-boot before the profile is set', () => {
    const realised = at('realised').deployment;
    assert.ok(realised !== null);
    const probation = effectFor(realised, false);
    assert.deepEqual(probation, { type: 'probation', storePath: NEW, resumed: false });
    assert.equal(probation === null ? null : announce(at('realised'), probation, NOW).deployment?.phase, 'probation');
    const staging = effectFor({ ...realised, phase: 'staging-boot' }, true);
    assert.equal(staging?.type, 'stage-boot');
  });

  const resumes: Array<[Deployment['phase'], string, string, Deployment['phase'], string | null]> = [
    ['probation', 'b2', OLD, 'rolled-back', null],
    ['checking-health', 'b2', OLD, 'rolled-back', null],
    ['probation', 'b1', NEW, 'probation', 'probation'],
    ['checking-health', 'b1', NEW, 'checking-health', 'check-health'],
    ['staging-boot', 'b2', OLD, 'rolling-back', 'rollback'],
    ['staging-boot', 'b2', NEW, 'staging-boot', 'stage-boot'],
    ['realised', 'b2', OLD, 'realised', 'probation'],
  ];
  for (const [phase, bootId, current, to, effect] of resumes) {
    it(`resume in ${phase}, boot ${bootId === 'b1' ? 'unchanged' : 'changed'}, running ${current === NEW ? 'new' : 'old'} → ${to}`, () => {
      const observed = { profile: { generation: 4, path: OLD }, currentSystem: current, bootedSystem: current, bootId };
      const result = step(at(phase), { type: 'resume', observed }, NOW, POLICY);
      assert.equal(result.journal.deployment?.phase, to);
      assert.equal(result.effect?.type ?? null, effect);
      if (to === 'rolled-back') {
        assert.equal(result.journal.deployment?.reason, REBOOTED_IN_PROBATION);
        assert.deepEqual(result.journal.failedVersions, [7]);
      }
    });
  }

  it('a reboot before probation records the new boot', () => {
    const observed = { profile: { generation: 4, path: OLD }, currentSystem: OLD, bootedSystem: OLD, bootId: 'b2' };
    assert.equal(step(at('realised'), { type: 'resume', observed }, NOW, POLICY).journal.deployment?.bootId, 'b2');
  });
});
