import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_JOURNAL, type Deployment, type Journal } from '../../agent/core/journal.js';
import { announce, effectFor, step, type Event, type Policy } from '../../agent/core/step.js';
import type { Manifest } from '../../shared/manifest.js';

const NOW = new Date('2026-11-21T12:00:00Z');
const OLD = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-old';
const NEW = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-new';
const POLICY: Policy = { onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true, maxResumes: 3 };
const PREVIOUS = { generation: 4, path: OLD, currentSystem: OLD };

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    host: 'web-1',
    version: 7,
    issuedAt: '2026-11-21T11:00:00Z',
    expiresAt: '2026-11-28T11:00:00Z',
    system: 'x86_64-linux',
    storePath: NEW,
    activation: 'switch',
    ...overrides,
  };
}

function at(phase: Deployment['phase'], overrides: Partial<Deployment> = {}): Journal {
  return {
    ...EMPTY_JOURNAL,
    lastAccepted: { version: 7, digest: 'd' },
    deployment: {
      version: 7,
      storePath: NEW,
      activation: 'switch',
      phase,
      previous: PREVIOUS,
      generation: null,
      reason: null,
      resumes: 0,
      startedAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      ...overrides,
    },
  };
}

describe('step: a new manifest', () => {
  it('persists the accepted version and digest and starts with the pre-flight', () => {
    const { journal, effect } = step(EMPTY_JOURNAL, { type: 'manifest', manifest: manifest(), digest: 'abc', currentSystem: OLD }, NOW, POLICY);
    assert.deepEqual(journal.lastAccepted, { version: 7, digest: 'abc' });
    assert.equal(journal.deployment?.phase, 'accepted');
    assert.deepEqual(effect, { type: 'preflight', storePath: NEW });
  });
  it('confirms at once when the store path is already the running system', () => {
    const { journal, effect } = step(EMPTY_JOURNAL, { type: 'manifest', manifest: manifest(), digest: 'abc', currentSystem: NEW }, NOW, POLICY);
    assert.equal(journal.deployment?.phase, 'confirmed');
    assert.equal(effect, null);
  });
  it('still installs a boot-mode manifest whose path is running but maybe not the boot default', () => {
    const { effect } = step(EMPTY_JOURNAL, { type: 'manifest', manifest: manifest({ activation: 'boot' }), digest: 'a', currentSystem: NEW }, NOW, POLICY);
    assert.equal(effect?.type, 'preflight');
  });
});

describe('step: the happy path, one event at a time', () => {
  const table: Array<[Deployment['phase'], Event, Deployment['phase'], string | null]> = [
    ['accepted', { type: 'preflight-ok' }, 'realising', 'realise'],
    ['realising', { type: 'realised', previous: PREVIOUS }, 'realised', 'set-profile'],
    ['realised', { type: 'profile-set', generation: 5 }, 'profile-set', 'activate'],
    ['activating', { type: 'activated' }, 'checking-health', 'check-health'],
    ['checking-health', { type: 'healthy', results: [] }, 'confirmed', null],
  ];
  for (const [from, event, to, effect] of table) {
    it(`${from} + ${event.type} → ${to}${effect === null ? '' : ` then ${effect}`}`, () => {
      const result = step(at(from), event, NOW, POLICY);
      assert.equal(result.journal.deployment?.phase, to);
      assert.equal(result.effect?.type ?? null, effect);
    });
  }
  it('records the exact previous generation before the profile is set', () => {
    const result = step(at('realising', { previous: null }), { type: 'realised', previous: PREVIOUS }, NOW, POLICY);
    assert.deepEqual(result.journal.deployment?.previous, PREVIOUS);
    assert.deepEqual(result.effect, { type: 'set-profile', storePath: NEW, previous: PREVIOUS });
  });
  it('records the generation the profile got', () => {
    assert.equal(step(at('realised'), { type: 'profile-set', generation: 5 }, NOW, POLICY).journal.deployment?.generation, 5);
  });
});

describe('step: activation modes', () => {
  it('does not set the profile for test activations', () => {
    const result = step(at('realising', { activation: 'test' }), { type: 'realised', previous: PREVIOUS }, NOW, POLICY);
    assert.equal(result.effect?.type, 'activate');
  });
  it('does not set the profile for dry-activate and confirms without a health window', () => {
    const realised = step(at('realising', { activation: 'dry-activate' }), { type: 'realised', previous: PREVIOUS }, NOW, POLICY);
    assert.equal(realised.effect?.type, 'activate');
    const done = step(at('activating', { activation: 'dry-activate' }), { type: 'activated' }, NOW, POLICY);
    assert.equal(done.journal.deployment?.phase, 'confirmed');
    assert.equal(done.effect, null);
  });
  it('confirms a boot activation without a health window (the new system is not running yet)', () => {
    const done = step(at('activating', { activation: 'boot' }), { type: 'activated' }, NOW, POLICY);
    assert.equal(done.journal.deployment?.phase, 'confirmed');
  });
});

describe('step: failures and rollback', () => {
  it('rolls back when activation fails', () => {
    const result = step(at('activating'), { type: 'activation-failed', error: 'exit 1' }, NOW, POLICY);
    assert.equal(result.journal.deployment?.phase, 'rolling-back');
    assert.match(result.journal.deployment?.reason ?? '', /activation failed: exit 1/);
    assert.deepEqual(result.effect, { type: 'rollback', previous: PREVIOUS, activation: 'switch' });
  });
  it('rolls back when health fails', () => {
    const result = step(at('checking-health'), { type: 'unhealthy', results: [], reason: 'http 500', controllerUnreachable: false }, NOW, POLICY);
    assert.equal(result.journal.deployment?.phase, 'rolling-back');
    assert.equal(result.journal.lastHealth?.ok, false);
  });
  it('rolls back when the controller is unreachable after the switch', () => {
    const network = [{ target: 'http://cache', ok: false, detail: 'connect ENETUNREACH' }];
    const result = step(at('checking-health'), { type: 'unhealthy', results: [], reason: 'controller unreachable after switch', controllerUnreachable: true, network }, NOW, POLICY);
    assert.equal(result.effect?.type, 'rollback');
  });
  it('fails without rollback when the policy for that failure is off', () => {
    const policies: Array<[Partial<Policy>, Event]> = [
      [{ onActivationFailure: false }, { type: 'activation-failed', error: 'x' }],
      [{ onHealthFailure: false }, { type: 'unhealthy', results: [], reason: 'x', controllerUnreachable: false }],
      [{ onControllerUnreachable: false }, { type: 'unhealthy', results: [], reason: 'x', controllerUnreachable: true, network: [{ target: 'http://cache', ok: false, detail: 'ENETUNREACH' }] }],
    ];
    for (const [override, event] of policies) {
      const result = step(at(event.type === 'activation-failed' ? 'activating' : 'checking-health'), event, NOW, { ...POLICY, ...override });
      assert.equal(result.journal.deployment?.phase, 'failed');
      assert.match(result.journal.deployment?.reason ?? '', /rollback disabled/);
      assert.deepEqual(result.journal.failedVersions, [7]);
    }
  });
  it('says clearly that a first deployment cannot roll back', () => {
    const first = { generation: null, path: null, currentSystem: null };
    const result = step(at('activating', { previous: first }), { type: 'activation-failed', error: 'exit 1' }, NOW, POLICY);
    assert.equal(result.journal.deployment?.phase, 'failed');
    assert.match(result.journal.deployment?.reason ?? '', /first deployment on this host: no previous generation/);
  });
  it('marks the version failed after a rollback so it is not retried', () => {
    const result = step(at('rolling-back', { reason: 'http 500' }), { type: 'rolled-back', results: [] }, NOW, POLICY);
    assert.equal(result.journal.deployment?.phase, 'rolled-back');
    assert.equal(result.journal.deployment?.reason, 'http 500');
    assert.deepEqual(result.journal.failedVersions, [7]);
  });
  it('fails with both reasons when the rollback itself fails', () => {
    const result = step(at('rolling-back', { reason: 'http 500' }), { type: 'rollback-failed', error: 'old is broken' }, NOW, POLICY);
    assert.equal(result.journal.deployment?.phase, 'failed');
    assert.equal(result.journal.deployment?.reason, 'http 500; rollback failed: old is broken');
  });
  it('fails without touching the system when realise, pre-flight or the profile fail', () => {
    for (const event of [
      { type: 'preflight-failed', error: 'no space' },
      { type: 'realise-failed', error: 'no substituter' },
      { type: 'profile-failed', error: 'nix-env' },
    ] as const) {
      const result = step(at('realising'), event, NOW, POLICY);
      assert.equal(result.journal.deployment?.phase, 'failed');
      assert.equal(result.effect, null);
    }
  });
  it('ignores events once a deployment is over', () => {
    const journal = at('confirmed');
    assert.deepEqual(step(journal, { type: 'activated' }, NOW, POLICY), { journal, effect: null });
  });
});

describe('step: resuming after a crash', () => {
  const table: Array<[Deployment['phase'], string | null]> = [
    ['accepted', 'preflight'],
    ['realising', 'realise'],
    ['realised', 'set-profile'],
    ['profile-set', 'activate'],
    ['activating', 'activate'],
    ['checking-health', 'check-health'],
    ['rolling-back', 'rollback'],
    ['confirmed', null],
    ['rolled-back', null],
    ['failed', null],
  ];
  for (const [phase, effect] of table) {
    it(`from ${phase} does ${effect ?? 'nothing'}`, () => {
      assert.equal(step(at(phase), { type: 'resume' }, NOW, POLICY).effect?.type ?? null, effect);
    });
  }
  it('re-runs an interrupted activation, whose completion it cannot verify', () => {
    const effect = effectFor(at('activating').deployment as Deployment, true);
    assert.deepEqual(effect, { type: 'activate', storePath: NEW, activation: 'switch', resumed: true });
  });
  it('counts resumes and rolls back a deployment interrupted too often', () => {
    const result = step(at('checking-health', { resumes: 3 }), { type: 'resume' }, NOW, POLICY);
    assert.equal(result.journal.deployment?.phase, 'rolling-back');
    assert.match(result.journal.deployment?.reason ?? '', /interrupted 4 times/);
  });
  it('keeps finishing a rollback however often it was interrupted', () => {
    const result = step(at('rolling-back', { resumes: 9 }), { type: 'resume' }, NOW, POLICY);
    assert.equal(result.effect?.type, 'rollback');
  });
});

describe('announce', () => {
  it('writes the phase of the effect about to run', () => {
    assert.equal(announce(at('profile-set'), { type: 'activate', storePath: NEW, activation: 'switch', resumed: false }, NOW).deployment?.phase, 'activating');
    assert.equal(announce(at('accepted'), { type: 'realise', storePath: NEW }, NOW).deployment?.phase, 'realising');
    assert.equal(announce(at('activating'), { type: 'check-health' }, NOW).deployment?.phase, 'checking-health');
  });
});
