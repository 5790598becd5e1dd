// The reboot path's decisions by tables, with the time injected: the gate (window, random delay, inhibitor locks),
// which locks hold a reboot, and every transition of a deployment that is deployed by a reboot.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_JOURNAL, type Deployment, type Journal } from '../../agent/core/journal.js';
import { nextLookDelayMs } from '../../agent/core/next-look.js';
import { blocksReboot, rebootGate, type GateInput, type RebootPolicy } from '../../agent/core/reboot-gate.js';
import { revertPlan } from '../../agent/core/reboot-effects.js';
import type { RebootState } from '../../agent/core/reboot-state.js';
import { step, type Event, type Policy } from '../../agent/core/step.js';
import { cronFields } from '../../agent/reboot-config.js';
import type { Inhibitor } from '../../shared/report.js';

const local = (h: number, mi = 0, s = 0) => new Date(2026, 2, 10, h, mi, s);
const MINUTE = 60_000;
const nightly = cronFields('0 3 * * *');
assert.ok(nightly);
const WINDOW: RebootPolicy = { mode: 'when-needed', window: { fields: nightly, durationMs: 120 * MINUTE }, delayMs: 10 * MINUTE };
const ANY_TIME: RebootPolicy = { mode: 'when-needed', window: null, delayMs: 0 };

const LOCK: Inhibitor = { who: 'backup', what: 'shutdown', why: 'nightly backup', mode: 'block' };
const DELAY_LOCK: Inhibitor = { who: 'ModemManager', what: 'sleep:shutdown', why: 'reset devices', mode: 'delay' };
const STC_LOCK: Inhibitor = { who: 'switch-to-configuration', what: 'shutdown:sleep', why: 'NixOS switch', mode: 'delay' };

const gate = (overrides: Partial<GateInput>): GateInput => ({
  now: local(3, 30),
  policy: WINDOW,
  urgent: false,
  notBefore: null,
  random: 0,
  inhibitors: [],
  inhibitorError: null,
  ...overrides,
});

describe('reboot gate: window, random delay, inhibitor locks', () => {
  const table: Array<[string, Partial<GateInput>, { kind: 'reboot' } | { kind: 'wait'; until: Date | null; notBefore: Date | null; match: RegExp }]> = [
    ['inside the window, no delay drawn yet, random 0: reboots', {}, { kind: 'reboot' }],
    ['before the window: waits for its opening', { now: local(2, 0) }, { kind: 'wait', until: local(3, 0), notBefore: null, match: /outside the maintenance window; it opens at/ }],
    ['after the window: waits for the next night', { now: local(5, 0) }, { kind: 'wait', until: new Date(2026, 2, 11, 3, 0), notBefore: null, match: /outside/ }],
    ['a delay drawn inside the window: waits until its end', { now: local(3, 0), random: 0.5 }, { kind: 'wait', until: local(3, 5), notBefore: local(3, 5), match: /random reboot delay until/ }],
    ['the delay is kept from an earlier look', { now: local(3, 2), random: 0.9, notBefore: local(3, 5) }, { kind: 'wait', until: local(3, 5), notBefore: local(3, 5), match: /random reboot delay/ }],
    ['the delay has passed: reboots', { now: local(3, 5), notBefore: local(3, 5) }, { kind: 'reboot' }],
    ['a delay left from an earlier window is drawn again', { now: local(3, 1), notBefore: local(1, 0), random: 0.2 }, { kind: 'wait', until: local(3, 3), notBefore: local(3, 3), match: /delay/ }],
    ['the delay never reaches past the window', { now: local(4, 58), random: 0.9 }, { kind: 'wait', until: new Date(local(4, 58).getTime() + 108_000), notBefore: new Date(local(4, 58).getTime() + 108_000), match: /delay/ }],
    ['a shutdown lock in block mode holds it', { inhibitors: [LOCK] }, { kind: 'wait', until: null, notBefore: local(3, 30), match: /held back by inhibitor lock "backup" \(shutdown, block: nightly backup\)/ }],
    ['a switch-to-configuration lock holds it, even in delay mode', { inhibitors: [STC_LOCK, DELAY_LOCK] }, { kind: 'wait', until: null, notBefore: local(3, 30), match: /"switch-to-configuration"/ }],
    ['a delay-mode lock of another program does not', { inhibitors: [DELAY_LOCK] }, { kind: 'reboot' }],
    ['locks that cannot be listed: waits rather than reboot blind', { inhibitors: null, inhibitorError: 'systemd-inhibit: not found' }, { kind: 'wait', until: null, notBefore: local(3, 30), match: /could not be listed \(systemd-inhibit: not found\)/ }],
    ['no window configured: any time', { policy: ANY_TIME, now: local(14, 0) }, { kind: 'reboot' }],
    ['no window, a delay: drawn from now', { policy: { ...ANY_TIME, delayMs: 10 * MINUTE }, now: local(14, 0), random: 0.5 }, { kind: 'wait', until: local(14, 5), notBefore: local(14, 5), match: /delay/ }],
    ['the reboot back is urgent: outside the window it reboots', { urgent: true, now: local(12, 0) }, { kind: 'reboot' }],
    ['the reboot back still waits for a block lock', { urgent: true, now: local(12, 0), inhibitors: [LOCK] }, { kind: 'wait', until: null, notBefore: null, match: /backup/ }],
  ];
  for (const [name, input, expected] of table) {
    it(name, () => {
      const decision = rebootGate(gate(input));
      assert.equal(decision.kind, expected.kind);
      if (decision.kind === 'wait' && expected.kind === 'wait') {
        assert.match(decision.reason, expected.match);
        assert.equal(decision.until?.getTime() ?? null, expected.until?.getTime() ?? null, 'until');
        assert.equal(decision.notBefore?.getTime() ?? null, expected.notBefore?.getTime() ?? null, 'notBefore');
      }
    });
  }

  it('reports the locks that hold it, and only those', () => {
    const decision = rebootGate(gate({ inhibitors: [LOCK, DELAY_LOCK, STC_LOCK] }));
    assert.equal(decision.kind, 'wait');
    if (decision.kind === 'wait') assert.deepEqual(decision.inhibitors, [LOCK, STC_LOCK]);
  });

  it('which locks hold a reboot', () => {
    const table: Array<[Inhibitor, boolean]> = [
      [LOCK, true],
      [DELAY_LOCK, false],
      [STC_LOCK, true],
      [{ who: 'nixos-rebuild', what: 'sleep', why: '', mode: 'delay' }, true],
      [{ who: 'gdm', what: 'sleep', why: 'screen lock', mode: 'block' }, false],
      [{ who: 'apt', what: 'handle-power-key:shutdown', why: 'upgrade', mode: 'block' }, true],
    ];
    for (const [lock, holds] of table) assert.equal(blocksReboot(lock), holds, lock.who);
  });
});

// ---------------------------------------------------------------------------------------------------------------

const NOW = new Date('2026-03-10T12:00:00Z');
const OLD = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-old';
const NEW = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-new';
const ELSE = '/nix/store/2c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-else';
const PREVIOUS = { generation: 4, path: OLD, currentSystem: OLD };
const POLICY: Policy = { onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true, maxResumes: 3, probation: true, reboot: ANY_TIME };
const RESULTS = [{ name: 'service', type: 'http' as const, ok: true, detail: '200' }];
const VERDICT = { needed: true, changed: ['kernel', 'initrd', 'kernel-modules'] as const };

function state(overrides: Partial<RebootState> = {}): RebootState {
  return { changed: ['kernel'], stage: 'before', bootId: 'boot-1', notBefore: null, waiting: null, nextCheck: null, inhibitors: [], reboots: 0, requestedAt: null, ...overrides };
}

function at(phase: Deployment['phase'], reboot: Partial<RebootState> | null = {}, overrides: Partial<Deployment> = {}): Journal {
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
      ...(reboot === null ? {} : { reboot: state(reboot) }),
      ...overrides,
    },
  };
}

const observed = (bootId: string, booted: string | null) => ({ profile: { generation: 5, path: NEW }, currentSystem: booted, bootedSystem: booted, bootId });

describe('step: entering the reboot path', () => {
  it('a realised switch that needs a reboot checks the running system first, never runs `test`, and leaves probation', () => {
    const start = at('realising', null, { probation: true });
    const { journal, effect, note } = step(start, { type: 'realised', previous: PREVIOUS, bootId: 'boot-1', reboot: { ...VERDICT, changed: [...VERDICT.changed] } }, NOW, POLICY);
    assert.equal(journal.deployment?.phase, 'checking-health');
    assert.equal(journal.deployment?.probation, undefined);
    assert.deepEqual(journal.deployment?.reboot?.changed, ['kernel', 'initrd', 'kernel-modules']);
    assert.equal(journal.deployment?.reboot?.stage, 'before');
    assert.equal(journal.deployment?.reboot?.bootId, 'boot-1');
    assert.deepEqual(effect, { type: 'check-health' });
    assert.match(note ?? '', /a reboot is needed/);
  });

  const ordinary: Array<[string, Policy, Deployment['activation'], boolean]> = [
    ['reboot: never', { ...POLICY, reboot: { ...ANY_TIME, mode: 'never' } }, 'switch', true],
    ['no reboot needed', POLICY, 'switch', false],
    ['a boot manifest', POLICY, 'boot', true],
    ['a test manifest', POLICY, 'test', true],
  ];
  for (const [name, policy, activation, needed] of ordinary) {
    it(`takes the ordinary path with ${name}`, () => {
      const start = at('realising', null, { activation, ...(activation === 'switch' ? { probation: true } : {}) });
      const { journal } = step(start, { type: 'realised', previous: PREVIOUS, bootId: 'boot-1', reboot: { needed, changed: needed ? ['kernel'] : [] } }, NOW, policy);
      assert.equal(journal.deployment?.phase, 'realised');
      assert.equal(journal.deployment?.reboot, undefined);
    });
  }
});

describe('step: the reboot path', () => {
  const unhealthy = (controllerUnreachable = false): Event => ({ type: 'unhealthy', results: [{ ...RESULTS[0]!, ok: false, detail: '500' }], reason: 'health check failed: service (500)', controllerUnreachable });
  const table: Array<[string, Journal, Event, { phase: Deployment['phase']; effect: string | null; stage?: RebootState['stage']; reason?: RegExp; policy?: Policy }]> = [
    ['the running system is healthy: the boot entry is staged', at('checking-health'), { type: 'healthy', results: RESULTS }, { phase: 'staging-boot', effect: 'stage-boot' }],
    ['the running system is unhealthy: nothing is staged and the deployment fails', at('checking-health'), unhealthy(), { phase: 'failed', effect: null, reason: /running system is unhealthy, so the boot entry for this generation was not staged/ }],
    ['staged: it waits for its reboot', at('staging-boot'), { type: 'boot-staged', generation: 5 }, { phase: 'awaiting-reboot', effect: 'check-reboot' }],
    ['staging failed: the boot entry goes back', at('staging-boot'), { type: 'activation-failed', error: 'staging the boot entry failed: disk full' }, { phase: 'rolling-back', effect: 'revert-boot', reason: /disk full/ }],
    ['staging failed with rollback off: still reverted', at('staging-boot'), { type: 'activation-failed', error: 'staging failed' }, { phase: 'rolling-back', effect: 'revert-boot', policy: { ...POLICY, onActivationFailure: false } }],
    ['the gate says go: rebooting', at('awaiting-reboot'), { type: 'reboot-checked', inhibitors: [], inhibitorError: null, random: 0, bootId: 'boot-1' }, { phase: 'rebooting', effect: 'reboot' }],
    ['the gate says wait: parked, nothing to do', at('awaiting-reboot'), { type: 'reboot-checked', inhibitors: [LOCK], inhibitorError: null, random: 0, bootId: 'boot-1' }, { phase: 'awaiting-reboot', effect: null }],
    ['systemd took the reboot job: parked until the boot', at('rebooting'), { type: 'reboot-requested' }, { phase: 'rebooting', effect: null }],
    ['systemctl reboot failed: waits and tries at the next look', at('rebooting'), { type: 'reboot-failed', error: 'exit 1' }, { phase: 'awaiting-reboot', effect: null }],
    ['the booted generation is healthy: confirmed', at('checking-health', { stage: 'booted' }), { type: 'healthy', results: RESULTS }, { phase: 'confirmed', effect: null }],
    ['the booted generation is unhealthy: its boot entry goes back', at('checking-health', { stage: 'booted' }), unhealthy(), { phase: 'rolling-back', effect: 'revert-boot', reason: /unhealthy after the reboot into this generation/ }],
    ['…unless health rollback is off', at('checking-health', { stage: 'booted' }), unhealthy(), { phase: 'failed', effect: null, reason: /rollback disabled/, policy: { ...POLICY, onHealthFailure: false } }],
    ['…and the controller rule decides when only the controller is unreachable', at('checking-health', { stage: 'booted' }), unhealthy(true), { phase: 'failed', effect: null, policy: { ...POLICY, onControllerUnreachable: false } }],
    ['reverted after a boot of the new generation: waits to reboot back', at('rolling-back', { stage: 'booted' }), { type: 'boot-reverted', currentSystem: NEW }, { phase: 'awaiting-reboot', effect: 'check-reboot', stage: 'reverted' }],
    ['reverted while already on the previous generation: checks it, no reboot', at('rolling-back', { stage: 'booted' }), { type: 'boot-reverted', currentSystem: OLD }, { phase: 'checking-health', effect: 'check-health', stage: 'reverted' }],
    ['reverted before any reboot: rolled back', at('rolling-back', { stage: 'before' }), { type: 'boot-reverted', currentSystem: OLD }, { phase: 'rolled-back', effect: null }],
    ['the reboot back is urgent: outside any window it reboots', at('awaiting-reboot', { stage: 'reverted' }), { type: 'reboot-checked', inhibitors: [], inhibitorError: null, random: 0.99, bootId: 'boot-2' }, { phase: 'rebooting', effect: 'reboot', policy: { ...POLICY, reboot: { ...WINDOW, delayMs: 3_600_000 } } }],
    ['back on the previous generation and healthy: rolled back', at('checking-health', { stage: 'reverted' }, { reason: 'unhealthy after the reboot' }), { type: 'healthy', results: RESULTS }, { phase: 'rolled-back', effect: null, reason: /unhealthy after the reboot/ }],
    ['back on the previous generation and unhealthy too: fails, no third reboot', at('checking-health', { stage: 'reverted' }, { reason: 'unhealthy after the reboot' }), unhealthy(), { phase: 'failed', effect: null, reason: /unhealthy too after the reboot back .*not rebooting again/ }],
    ['revert failed: fails with both reasons', at('rolling-back', { stage: 'booted' }, { reason: 'unhealthy after the reboot' }), { type: 'rollback-failed', error: 'nix-env exited 1' }, { phase: 'failed', effect: null, reason: /unhealthy after the reboot; rollback failed: nix-env exited 1/ }],
  ];
  for (const [name, journal, event, expected] of table) {
    it(name, () => {
      const result = step(journal, event, NOW, expected.policy ?? POLICY);
      assert.equal(result.journal.deployment?.phase, expected.phase);
      assert.equal(result.effect?.type ?? null, expected.effect);
      if (expected.stage !== undefined) assert.equal(result.journal.deployment?.reboot?.stage, expected.stage);
      if (expected.reason !== undefined) assert.match(result.journal.deployment?.reason ?? '', expected.reason);
    });
  }

  it('a wait records why, when to look again, and which locks hold it', () => {
    const policy = { ...POLICY, reboot: WINDOW };
    const { journal, note } = step(at('awaiting-reboot'), { type: 'reboot-checked', inhibitors: [], inhibitorError: null, random: 0, bootId: 'boot-1' }, local(1, 0), policy);
    assert.match(journal.deployment?.reboot?.waiting ?? '', /outside the maintenance window/);
    assert.equal(journal.deployment?.reboot?.nextCheck, local(3, 0).toISOString());
    assert.match(note ?? '', /reboot waits/);
    assert.equal(nextLookDelayMs(journal, local(1, 0)), 2 * 3_600_000);
    const held = step(at('awaiting-reboot'), { type: 'reboot-checked', inhibitors: [LOCK], inhibitorError: null, random: 0, bootId: 'boot-1' }, NOW, POLICY).journal;
    assert.deepEqual(held.deployment?.reboot?.inhibitors, [LOCK]);
    assert.equal(nextLookDelayMs(held, NOW), null);
  });

  it('the reboot records the boot it leaves and when it was asked for; the count grows with the boot that follows', () => {
    const going = step(at('awaiting-reboot'), { type: 'reboot-checked', inhibitors: [], inhibitorError: null, random: 0, bootId: 'boot-9' }, NOW, POLICY).journal;
    assert.equal(going.deployment?.reboot?.bootId, 'boot-9');
    assert.equal(going.deployment?.reboot?.requestedAt, NOW.toISOString());
    const asked = step(going, { type: 'reboot-requested' }, NOW, POLICY).journal;
    assert.equal(asked.deployment?.reboot?.reboots, 0);
    assert.equal(step(asked, { type: 'resume', observed: observed('boot-9', OLD) }, NOW, POLICY).journal.deployment?.reboot?.reboots, 0);
    assert.equal(step(asked, { type: 'resume', observed: observed('boot-10', NEW) }, NOW, POLICY).journal.deployment?.reboot?.reboots, 1);
  });

  it('a confirmed or rolled-back deployment joins failedVersions only when it did not confirm', () => {
    assert.deepEqual(step(at('checking-health', { stage: 'booted' }), { type: 'healthy', results: RESULTS }, NOW, POLICY).journal.failedVersions, []);
    assert.deepEqual(step(at('checking-health', { stage: 'reverted' }), { type: 'healthy', results: RESULTS }, NOW, POLICY).journal.failedVersions, [7]);
  });
});

describe('step: resuming on the reboot path', () => {
  const table: Array<[string, Journal, ReturnType<typeof observed>, { phase: Deployment['phase']; effect: string | null; stage?: RebootState['stage']; resumes?: number; reason?: RegExp }]> = [
    ['waiting, same boot: looks again, no resume counted', at('awaiting-reboot'), observed('boot-1', OLD), { phase: 'awaiting-reboot', effect: 'check-reboot', resumes: 0 }],
    ['rebooting, same boot (the reboot did not happen): looks again', at('rebooting'), observed('boot-1', OLD), { phase: 'awaiting-reboot', effect: 'check-reboot', resumes: 0 }],
    ['staging, same boot: the ordinary resume (counted)', at('staging-boot'), observed('boot-1', OLD), { phase: 'staging-boot', effect: 'stage-boot', resumes: 1 }],
    ['rebooted into the new generation: checks it', at('rebooting'), observed('boot-2', NEW), { phase: 'checking-health', effect: 'check-health', stage: 'booted' }],
    ['rebooted by someone else while waiting, into the new generation: checks it', at('awaiting-reboot'), observed('boot-2', NEW), { phase: 'checking-health', effect: 'check-health', stage: 'booted' }],
    ['rebooted but came up on the old generation: its boot entry goes back', at('rebooting'), observed('boot-2', OLD), { phase: 'rolling-back', effect: 'revert-boot', stage: 'before', reason: /came up on .*old, not on this generation/ }],
    ['a power cut while staging: staging goes on', at('staging-boot'), observed('boot-2', OLD), { phase: 'staging-boot', effect: 'stage-boot', stage: 'before' }],
    ['a power cut while checking the running system: checks again', at('checking-health'), observed('boot-2', OLD), { phase: 'checking-health', effect: 'check-health', stage: 'before' }],
    ['a power cut while checking the booted generation: checks again', at('checking-health', { stage: 'booted' }), observed('boot-3', NEW), { phase: 'checking-health', effect: 'check-health', stage: 'booted' }],
    ['a reboot elsewhere while checking the booted generation: reverted', at('checking-health', { stage: 'booted' }), observed('boot-3', ELSE), { phase: 'rolling-back', effect: 'revert-boot', stage: 'booted' }],
    ['rebooted back onto the previous generation: checks it', at('rebooting', { stage: 'reverted', reboots: 2 }), observed('boot-3', OLD), { phase: 'checking-health', effect: 'check-health', stage: 'reverted' }],
    ['rebooted back but on something else: fails, no third reboot', at('rebooting', { stage: 'reverted', reboots: 2 }, { reason: 'unhealthy after the reboot' }), observed('boot-3', NEW), { phase: 'failed', effect: null, reason: /not on the previous generation; not rebooting again/ }],
  ];
  for (const [name, journal, seen, expected] of table) {
    it(name, () => {
      const result = step(journal, { type: 'resume', observed: seen }, NOW, POLICY);
      assert.equal(result.journal.deployment?.phase, expected.phase);
      assert.equal(result.effect?.type ?? null, expected.effect);
      if (expected.stage !== undefined) assert.equal(result.journal.deployment?.reboot?.stage, expected.stage);
      if (expected.resumes !== undefined) assert.equal(result.journal.deployment?.resumes, expected.resumes);
      if (expected.reason !== undefined) assert.match(result.journal.deployment?.reason ?? '', expected.reason);
      if (seen.bootId !== 'boot-1' && result.journal.deployment?.reboot !== undefined) assert.equal(result.journal.deployment.reboot.bootId, seen.bootId);
    });
  }
});

describe('revert plan', () => {
  it('goes back to the running system: by its generation when the profile named it, else by a new generation of it', () => {
    assert.deepEqual(revertPlan({ generation: 4, path: OLD, currentSystem: OLD }), { target: OLD, generation: 4 });
    assert.deepEqual(revertPlan({ generation: 5, path: ELSE, currentSystem: OLD }), { target: OLD, generation: null });
    assert.deepEqual(revertPlan({ generation: null, path: null, currentSystem: OLD }), { target: OLD, generation: null });
    assert.equal(revertPlan({ generation: null, path: null, currentSystem: null }), null);
  });
});
