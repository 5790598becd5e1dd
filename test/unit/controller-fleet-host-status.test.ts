import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHostStatus, hostState, type Desired, type HostState } from '../../controller/fleet/host-status.js';
import type { Outcome, Phase, Report } from '../../shared/report.js';

const A = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-system-a';
const B = '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-system-b';
const NOW = new Date('2026-01-01T12:00:00Z');
const SILENT_MS = 180_000;
const desired: Desired = { version: 4, storePath: B, activation: 'switch' };

function report(phase: Phase, outcome: Outcome, current: string | null, manifestVersion: number | null): Report {
  return {
    host: 'web-1',
    seq: 1,
    time: NOW.toISOString(),
    kind: 'phase',
    manifestVersion,
    desiredPath: null,
    phase,
    outcome,
    currentSystem: current,
    bootedSystem: current,
    generation: 1,
    health: [],
    error: null,
    facts: null,
  };
}

const secondsAgo = (s: number) => new Date(NOW.getTime() - s * 1000);

describe('hostState', () => {
  const cases: Array<[string, Desired | null, Report | null, Date | null, HostState]> = [
    ['no report at all is never-seen', desired, null, null, 'never-seen'],
    ['no report and nothing desired is never-seen', null, null, null, 'never-seen'],
    ['a last report older than the silence window is silent', desired, report('confirmed', 'success', B, 4), secondsAgo(181), 'silent'],
    ['a report exactly at the silence window is not silent yet', desired, report('confirmed', 'success', B, 4), secondsAgo(180), 'in-sync'],
    ['silence wins over a rolled-back outcome', desired, report('rolled-back', 'rolled-back', A, 4), secondsAgo(500), 'silent'],
    ['a boot manifest confirmed but not yet booted is awaiting-reboot', { ...desired, activation: 'boot' }, report('confirmed', 'success', A, 4), secondsAgo(5), 'awaiting-reboot'],
    ['a boot manifest running after the reboot is in-sync', { ...desired, activation: 'boot' }, report('idle', 'success', B, 4), secondsAgo(5), 'in-sync'],
    ['a dry-activate manifest that went through is dry-activated', { ...desired, activation: 'dry-activate' }, report('confirmed', 'success', A, 4), secondsAgo(5), 'dry-activated'],
    ['a boot manifest still deploying is deploying', { ...desired, activation: 'boot' }, report('realising', 'in-progress', A, 4), secondsAgo(5), 'deploying'],
    ['the desired version rolled back is rolled-back', desired, report('rolled-back', 'rolled-back', A, 4), secondsAgo(5), 'rolled-back'],
    ['a rollback of an older version while a newer is desired is deploying', desired, report('rolled-back', 'rolled-back', A, 3), secondsAgo(5), 'deploying'],
    ['a failure of the desired version is failed', desired, report('failed', 'failure', A, 4), secondsAgo(5), 'failed'],
    ['a rejected desired manifest is failed', desired, report('rejected', 'rejected', A, 4), secondsAgo(5), 'failed'],
    ['a failure with no version is failed', desired, report('failed', 'failure', A, null), secondsAgo(5), 'failed'],
    ['a failure of an older version while a newer is desired is deploying', desired, report('failed', 'failure', A, 3), secondsAgo(5), 'deploying'],
    ['running the desired path, confirmed, is in-sync', desired, report('confirmed', 'success', B, 4), secondsAgo(5), 'in-sync'],
    ['running the desired path, idle heartbeat, is in-sync', desired, report('idle', 'in-progress', B, 4), secondsAgo(5), 'in-sync'],
    ['running the desired path with success from an earlier version is in-sync', desired, report('confirmed', 'success', B, 3), secondsAgo(5), 'in-sync'],
    ['running the desired path while still checking health is deploying', desired, report('checking-health', 'in-progress', B, 4), secondsAgo(5), 'deploying'],
    ['running another path, confirmed, is deploying', desired, report('confirmed', 'success', A, 3), secondsAgo(5), 'deploying'],
    ['realising the desired version is deploying', desired, report('realising', 'in-progress', A, 4), secondsAgo(5), 'deploying'],
    ['nothing desired and idle is in-sync', null, report('idle', 'in-progress', A, null), secondsAgo(5), 'in-sync'],
    ['nothing desired and a rollback is rolled-back', null, report('rolled-back', 'rolled-back', A, 2), secondsAgo(5), 'rolled-back'],
    ['a switch waiting for its reboot window is awaiting-reboot', desired, report('awaiting-reboot', 'in-progress', A, 4), secondsAgo(5), 'awaiting-reboot'],
    ['an older version waiting for its reboot while a newer is desired is deploying', desired, report('awaiting-reboot', 'in-progress', A, 3), secondsAgo(5), 'deploying'],
    ['a switch held for its activation window is awaiting-window', desired, report('awaiting-window', 'in-progress', A, 4), secondsAgo(5), 'awaiting-window'],
    ['an older version held for its window while a newer is desired is deploying', desired, report('awaiting-window', 'in-progress', A, 3), secondsAgo(5), 'deploying'],
    ['a host rebooting into the desired version is deploying', desired, report('rebooting', 'in-progress', A, 4), secondsAgo(5), 'deploying'],
  ];
  for (const [name, want, last, lastSeen, expected] of cases) {
    it(name, () => {
      assert.equal(hostState({ desired: want, report: last, lastSeen, now: NOW, silentAfterMs: SILENT_MS }), expected);
    });
  }
});

describe('host status row', () => {
  it('passes the last report\'s realise progress and reboot state through, and null without them', () => {
    const progress = { pathsDone: 2, pathsTotal: 9, bytesDone: 1024, bytesTotal: 4096, finished: false };
    const reboot = { changed: ['kernel' as const], stage: 'before' as const, waiting: 'outside the maintenance window', nextCheck: null, inhibitors: [], reboots: 0 };
    const inputs = { host: 'web-1', enrolled: 'enrolled' as const, desired, lastSeen: secondsAgo(5) };
    const row = buildHostStatus({ ...inputs, report: { ...report('awaiting-reboot', 'in-progress', A, 4), progress, reboot } }, NOW, SILENT_MS);
    assert.deepEqual(row.progress, progress);
    assert.deepEqual(row.reboot, reboot);
    assert.equal(row.state, 'awaiting-reboot');
    const plain = buildHostStatus({ ...inputs, report: report('confirmed', 'success', B, 4) }, NOW, SILENT_MS);
    assert.equal(plain.progress, null);
    assert.equal(plain.reboot, null);
  });

  it('passes the activation window\'s opening through while the host holds its activation, and null otherwise', () => {
    const inputs = { host: 'web-1', enrolled: 'enrolled' as const, desired, lastSeen: secondsAgo(5) };
    const activationWindow = { opensAt: '2026-01-01T13:00:00.000Z' };
    const row = buildHostStatus({ ...inputs, report: { ...report('awaiting-window', 'in-progress', A, 4), activationWindow } }, NOW, SILENT_MS);
    assert.equal(row.state, 'awaiting-window');
    assert.deepEqual(row.activationWindow, activationWindow);
    assert.equal(buildHostStatus({ ...inputs, report: report('confirmed', 'success', B, 4) }, NOW, SILENT_MS).activationWindow, null);
  });

  it('passes an activation overrun through while the agent waits for the switch, and null otherwise', () => {
    const inputs = { host: 'web-1', enrolled: 'enrolled' as const, desired, lastSeen: secondsAgo(5) };
    const activationOverrun = { seconds: 700, limitSeconds: 600 };
    const row = buildHostStatus({ ...inputs, report: { ...report('activating', 'in-progress', A, 4), activationOverrun } }, NOW, SILENT_MS);
    assert.equal(row.state, 'deploying');
    assert.deepEqual(row.activationOverrun, activationOverrun);
    assert.equal(buildHostStatus({ ...inputs, report: report('confirmed', 'success', B, 4) }, NOW, SILENT_MS).activationOverrun, null);
  });
});
