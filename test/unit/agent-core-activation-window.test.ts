// The activation window by tables, with the time injected: which activations it holds, the step from `realised`
// into `awaiting-window`, the look again at a resume, the daemon's wake-up delay and what reports carry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heldByWindow, windowReport, windowVerdict } from '../../agent/core/activation-window.js';
import { nextLookDelayMs } from '../../agent/core/next-look.js';
import { EMPTY_JOURNAL, type Deployment, type Journal } from '../../agent/core/journal.js';
import type { WindowSpec } from '../../agent/core/maintenance-window.js';
import { step, type Event, type Policy } from '../../agent/core/step.js';
import { cronFields } from '../../agent/reboot-config.js';
import type { Manifest } from '../../shared/manifest.js';

const local = (h: number, mi = 0, s = 0) => new Date(2026, 2, 10, h, mi, s);
const MINUTE = 60_000;
const nightly = cronFields('0 3 * * *');
assert.ok(nightly);
/** 03:00 to 05:00 every night, host local time. */
const WINDOW: WindowSpec = { fields: nightly, durationMs: 120 * MINUTE };
const OLD = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-old';
const NEW = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-new';
const PREVIOUS = { generation: 4, path: OLD, currentSystem: OLD };
const BASE: Policy = { onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true, maxResumes: 3 };
const POLICY: Policy = { ...BASE, activationWindow: WINDOW };

function at(phase: Deployment['phase'], overrides: Partial<Deployment> = {}): Journal {
  return {
    ...EMPTY_JOURNAL,
    lastAccepted: { version: 7, digest: 'd' },
    deployment: {
      version: 7,
      storePath: NEW,
      activation: 'switch',
      phase,
      previous: phase === 'realising' ? null : PREVIOUS,
      generation: null,
      reason: null,
      resumes: 0,
      startedAt: local(1).toISOString(),
      updatedAt: local(1).toISOString(),
      ...overrides,
    },
  };
}

const held = (opensAt: Date | null, overrides: Partial<Deployment> = {}) => at('awaiting-window', { activationWindow: { opensAt: opensAt?.toISOString() ?? null }, ...overrides });
const realised: Event = { type: 'realised', previous: PREVIOUS, bootId: 'boot-1' };
const resume = (bootId = 'boot-1'): Event => ({ type: 'resume', observed: { profile: { generation: 4, path: OLD }, currentSystem: OLD, bootedSystem: OLD, bootId } });

describe('activation window: which activations it holds', () => {
  const table: Array<[Deployment['activation'], boolean]> = [
    ['switch', true],
    ['test', true],
    ['boot', false],
    ['dry-activate', false],
  ];
  for (const [activation, holds] of table) {
    it(`${holds ? 'holds' : 'never holds'} a ${activation}`, () => assert.equal(heldByWindow(activation), holds));
  }
});

describe('activation window: the verdict at a given time', () => {
  const table: Array<[string, Deployment['activation'], WindowSpec | null, Date, Date | null | 'activate']> = [
    ['no window configured: at once', 'switch', null, local(12), 'activate'],
    ['inside the window: at once', 'switch', WINDOW, local(3, 30), 'activate'],
    ['at the opening tick: at once', 'test', WINDOW, local(3), 'activate'],
    ['before the window: waits for tonight', 'switch', WINDOW, local(2, 59, 59), local(3)],
    ['at the closing instant: waits for tomorrow night', 'switch', WINDOW, local(5), new Date(2026, 2, 11, 3)],
    ['after the window: waits for tomorrow night', 'test', WINDOW, local(12), new Date(2026, 2, 11, 3)],
    ['a boot outside the window: at once', 'boot', WINDOW, local(12), 'activate'],
    ['a dry-activate outside the window: at once', 'dry-activate', WINDOW, local(12), 'activate'],
  ];
  for (const [name, activation, window, now, expected] of table) {
    it(name, () => {
      const verdict = windowVerdict(activation, window, now);
      if (expected === 'activate') assert.deepEqual(verdict, { kind: 'activate' });
      else assert.deepEqual(verdict, { kind: 'wait', opensAt: expected });
    });
  }
});

describe('step: a realised deployment and the activation window', () => {
  const table: Array<[string, Journal, Date, Policy, { phase: Deployment['phase']; effect: string | null; opensAt?: Date }]> = [
    ['a switch outside the window waits, and nothing runs', at('realising'), local(12), POLICY, { phase: 'awaiting-window', effect: null, opensAt: new Date(2026, 2, 11, 3) }],
    ['a test outside the window waits', at('realising', { activation: 'test' }), local(2), POLICY, { phase: 'awaiting-window', effect: null, opensAt: local(3) }],
    ['a switch in probation outside the window waits before its test run', at('realising', { probation: true }), local(2), POLICY, { phase: 'awaiting-window', effect: null, opensAt: local(3) }],
    ['a switch inside the window sets the profile at once', at('realising'), local(4), POLICY, { phase: 'realised', effect: 'set-profile' }],
    ['without a window a switch sets the profile at once (unchanged behaviour)', at('realising'), local(12), BASE, { phase: 'realised', effect: 'set-profile' }],
    ['a boot outside the window is not held', at('realising', { activation: 'boot' }), local(12), POLICY, { phase: 'realised', effect: 'set-profile' }],
    ['a dry-activate outside the window is not held', at('realising', { activation: 'dry-activate' }), local(12), POLICY, { phase: 'realised', effect: 'activate' }],
  ];
  for (const [name, journal, now, policy, expected] of table) {
    it(name, () => {
      const result = step(journal, realised, now, policy);
      assert.equal(result.journal.deployment?.phase, expected.phase);
      assert.equal(result.effect?.type ?? null, expected.effect);
      assert.deepEqual(result.journal.deployment?.previous, PREVIOUS, 'the previous generation is recorded before the wait');
      if (expected.opensAt !== undefined) {
        assert.equal(result.journal.deployment?.activationWindow?.opensAt, expected.opensAt.toISOString());
        assert.match(result.note ?? '', /waits for the activation window, which opens at/);
      } else {
        assert.equal(result.journal.deployment?.activationWindow, undefined);
      }
    });
  }

  it('a switch deployed by a reboot is not held: it waits for the maintenance window instead', () => {
    const policy: Policy = { ...POLICY, reboot: { mode: 'when-needed', window: null, delayMs: 0 } };
    const result = step(at('realising'), { ...realised, reboot: { needed: true, changed: ['kernel'] } }, local(12), policy);
    assert.equal(result.journal.deployment?.phase, 'checking-health');
  });
});

describe('step: a resume while the activation waits for its window', () => {
  const table: Array<[string, Journal, Date, Policy, { phase: Deployment['phase']; effect: string | null; opensAt?: Date }]> = [
    ['still outside the window: waits on, nothing runs', held(local(3)), local(2, 30), POLICY, { phase: 'awaiting-window', effect: null, opensAt: local(3) }],
    ['the window opened: the switch sets the profile', held(local(3)), local(3), POLICY, { phase: 'realised', effect: 'set-profile' }],
    ['the window opened: a test activates', held(local(3), { activation: 'test' }), local(3, 1), POLICY, { phase: 'realised', effect: 'activate' }],
    ['the window opened: a switch in probation runs its test', held(local(3), { probation: true }), local(3, 1), POLICY, { phase: 'realised', effect: 'probation' }],
    ['the window came and went while the agent was down: waits for the next one', held(local(3)), local(6), POLICY, { phase: 'awaiting-window', effect: null, opensAt: new Date(2026, 2, 11, 3) }],
    ['the window was removed from the config: activates', held(local(3)), local(12), BASE, { phase: 'realised', effect: 'set-profile' }],
  ];
  for (const [name, journal, now, policy, expected] of table) {
    it(name, () => {
      const result = step(journal, resume(), now, policy);
      assert.equal(result.journal.deployment?.phase, expected.phase);
      assert.equal(result.effect?.type ?? null, expected.effect);
      assert.equal(result.journal.deployment?.resumes, 0, 'a look at the window is not a crash');
      if (expected.opensAt !== undefined) assert.equal(result.journal.deployment?.activationWindow?.opensAt, expected.opensAt.toISOString());
      else assert.equal(result.journal.deployment?.activationWindow, undefined);
    });
  }

  it('a crash after the realise, inside the window, resumed after the window closed: held again before anything runs', () => {
    const result = step(at('realised'), resume(), local(6), POLICY);
    assert.equal(result.journal.deployment?.phase, 'awaiting-window');
    assert.equal(result.effect, null);
    assert.equal(result.journal.deployment?.activationWindow?.opensAt, new Date(2026, 2, 11, 3).toISOString());
  });

  it('the same crash resumed inside the window goes on, and a profile already set is activated, window or not', () => {
    assert.equal(step(at('realised'), resume(), local(4), POLICY).effect?.type, 'set-profile');
    const set = step(at('profile-set', { generation: 5 }), resume(), local(6), POLICY);
    assert.equal(set.journal.deployment?.phase, 'profile-set');
    assert.equal(set.effect?.type, 'activate');
  });

  it('many looks never use up the resumes a crashed deployment gets', () => {
    let journal = held(local(3));
    for (let i = 0; i < 10; i += 1) journal = step(journal, resume(), local(2, i), POLICY).journal;
    assert.equal(journal.deployment?.phase, 'awaiting-window');
  });

  it('a probation switch records the boot its test run happens in when the window opens after a reboot', () => {
    const result = step(held(local(3), { probation: true, bootId: 'boot-1' }), resume('boot-2'), local(3, 1), POLICY);
    assert.equal(result.journal.deployment?.bootId, 'boot-2');
    assert.equal(result.effect?.type, 'probation');
  });

  it('a newer manifest replaces the waiting deployment', () => {
    const manifest: Manifest = { host: 'web-1', version: 8, issuedAt: local(11).toISOString(), expiresAt: local(23).toISOString(), system: 'x86_64-linux', storePath: OLD, activation: 'switch' };
    const result = step(held(local(3)), { type: 'manifest', manifest, digest: 'e', currentSystem: OLD }, local(12), POLICY);
    assert.equal(result.journal.deployment?.version, 8);
    assert.equal(result.journal.deployment?.phase, 'confirmed');
    assert.equal(result.journal.deployment?.activationWindow, undefined);
  });
});

describe('activation window: the daemon wake-up and the reports', () => {
  it('the daemon sleeps no longer than until the window opens', () => {
    assert.equal(nextLookDelayMs(held(local(3)), local(2, 30)), 30 * MINUTE);
    assert.equal(nextLookDelayMs(held(local(3)), local(3, 1)), 0);
  });

  it('nothing to wake for when nothing is held, or the window never opens again', () => {
    assert.equal(nextLookDelayMs(at('realised'), local(2)), null);
    assert.equal(nextLookDelayMs(held(null), local(2)), null);
    assert.equal(nextLookDelayMs(EMPTY_JOURNAL, local(2)), null);
  });

  it('reports carry the opening only while held', () => {
    assert.deepEqual(windowReport(held(local(3)).deployment), { opensAt: local(3).toISOString() });
    assert.equal(windowReport(at('realised', { activationWindow: { opensAt: local(3).toISOString() } }).deployment), undefined);
    assert.equal(windowReport(null), undefined);
  });
});
