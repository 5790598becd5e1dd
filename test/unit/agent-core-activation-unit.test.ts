// The activation's transient unit: its systemd-run argv, how its state is read, and the overrun policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ACTIVATION_UNIT,
  activationDescription,
  activationPath,
  judgeUnit,
  overrunDecision,
  parseUnitShow,
  stoppedByShutdown,
  transientActivationArgs,
  type UnitStatus,
} from '../../agent/core/activation-unit.js';

const SYSTEM = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a';

describe('activation unit', () => {
  it('shares nixos-rebuild-ng\'s unit name, so a hand-run nixos-rebuild and the agent never activate at once', () => {
    assert.equal(ACTIVATION_UNIT, 'nixos-rebuild-switch-to-configuration');
  });

  it('builds the systemd-run argv: fixed unit, kept after exit so its result can be read, the switch as argv', () => {
    assert.deepEqual(transientActivationArgs(SYSTEM, 'switch'), [
      'systemd-run',
      '--unit=nixos-rebuild-switch-to-configuration',
      `--description=tsdeploy activation: ${SYSTEM} switch`,
      '--service-type=exec',
      '--property=RemainAfterExit=yes',
      '--no-ask-password',
      '--quiet',
      '--',
      `${SYSTEM}/bin/switch-to-configuration`,
      'switch',
    ]);
  });

  it('takes the transient unit only when systemd runs, and never for dry-activate', () => {
    const table = [
      [true, 'switch', 'transient-unit'],
      [true, 'test', 'transient-unit'],
      [true, 'boot', 'transient-unit'],
      [true, 'dry-activate', 'direct'],
      [false, 'switch', 'direct'],
      [false, 'test', 'direct'],
    ] as const;
    for (const [systemd, action, path] of table) assert.equal(activationPath(systemd, action), path, `${String(systemd)} ${action}`);
  });

  it('parses systemctl show output', () => {
    const status = parseUnitShow(
      'LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nExecMainCode=1\nExecMainStatus=4\nDescription=tsdeploy activation: x switch\n',
    );
    assert.deepEqual(status, {
      loadState: 'loaded',
      activeState: 'failed',
      subState: 'failed',
      result: 'exit-code',
      execMainStatus: 4,
      description: 'tsdeploy activation: x switch',
    });
  });

  const ours = activationDescription(SYSTEM, 'switch');
  const unit = (fields: Partial<UnitStatus>): UnitStatus => ({
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    result: 'success',
    execMainStatus: 0,
    description: ours,
    ...fields,
  });

  it('judges the unit state: absent, running, finished well or badly, and another run\'s unit', () => {
    const table: Array<[string, UnitStatus, string]> = [
      ['never started', unit({ loadState: 'not-found', activeState: 'inactive', subState: 'dead', description: '' }), 'absent'],
      ['stopped after being read', unit({ activeState: 'inactive', subState: 'dead' }), 'absent'],
      ['still running', unit({}), 'running'],
      ['starting', unit({ activeState: 'activating', subState: 'start' }), 'running'],
      ['exited 0', unit({ subState: 'exited' }), 'succeeded'],
      ['exited 4', unit({ activeState: 'failed', subState: 'failed', result: 'exit-code', execMainStatus: 4 }), 'failed'],
      ['killed', unit({ activeState: 'failed', subState: 'failed', result: 'signal', execMainStatus: 9 }), 'failed'],
      ['a hand-run nixos-rebuild', unit({ description: '/nix/store/x/bin/switch-to-configuration switch' }), 'foreign-running'],
      ['another system of ours, finished', unit({ subState: 'exited', description: activationDescription(SYSTEM, 'test') }), 'foreign-finished'],
    ];
    for (const [name, status, kind] of table) assert.equal(judgeUnit(status, SYSTEM, 'switch').kind, kind, name);
  });

  it('says how a failed unit ended', () => {
    const verdict = judgeUnit(unit({ activeState: 'failed', subState: 'failed', result: 'exit-code', execMainStatus: 4 }), SYSTEM, 'switch');
    assert.deepEqual(verdict, { kind: 'failed', detail: 'switch-to-configuration switch failed: unit result exit-code (exit status 4)' });
  });

  it('a switch stopped by a shutdown is not a failure: the next boot decides', () => {
    assert.equal(stoppedByShutdown('failed', 'stopping\n'), true);
    assert.equal(stoppedByShutdown('vanished', 'stopping'), true);
    assert.equal(stoppedByShutdown('failed', 'running'), false);
    assert.equal(stoppedByShutdown('failed', 'degraded'), false);
  });

  it('reports an overrun once per time limit passed and waits, or stops it by policy; never silently', () => {
    assert.equal(overrunDecision(59_000, 60_000, 0, 'wait').kind, 'keep-waiting');
    assert.equal(overrunDecision(61_000, 60_000, 0, 'wait').kind, 'report-and-wait');
    assert.equal(overrunDecision(61_000, 60_000, 1, 'wait').kind, 'keep-waiting');
    assert.equal(overrunDecision(121_000, 60_000, 1, 'wait').kind, 'report-and-wait');
    const stop = overrunDecision(61_000, 60_000, 0, 'stop');
    assert.equal(stop.kind, 'stop');
    assert.match(stop.kind === 'stop' ? stop.message : '', /time limit of 60s; stopped by policy/);
  });
});
