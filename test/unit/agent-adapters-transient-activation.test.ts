// The transient-unit activation against a scripted systemctl: resumes wait for a running switch instead of
// starting another, read a finished one's result, and take the direct path where no systemd runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTransientActivation, isActivationUnitError } from '../../agent/adapters/transient-activation.js';
import { activationDescription } from '../../agent/core/activation-unit.js';
import { silentLogger } from '../../shared/log.js';

const SYSTEM = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a';
const show = (state: string, sub: string, result = 'success', status = 0, description = activationDescription(SYSTEM, 'switch')) =>
  `LoadState=loaded\nActiveState=${state}\nSubState=${sub}\nResult=${result}\nExecMainCode=1\nExecMainStatus=${status}\nDescription=${description}\n`;
const ABSENT = 'LoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\nDescription=\n';

/** A systemctl whose `show` answers come from `states` in turn (the last repeats); records every argv. */
function scripted(states: string[], systemd = true) {
  const calls: string[][] = [];
  let index = 0;
  const activate = createTransientActivation({
    log: silentLogger(),
    limitMs: 1000,
    overrun: 'wait',
    pollMs: 1,
    systemdRunning: async () => systemd,
    runDirect: async (path, action) => {
      calls.push(['direct', path, action]);
      return 'direct output';
    },
    run: async (argv) => {
      calls.push(argv);
      if (argv[0] === 'systemctl' && argv[1] === 'show') {
        const stdout = states[Math.min(index, states.length - 1)] ?? ABSENT;
        index += 1;
        return { stdout, stderr: '' };
      }
      return { stdout: '', stderr: '' };
    },
    sleep: async () => undefined,
    systemState: async () => 'running',
  });
  return { activate, calls, started: () => calls.filter((argv) => argv[0] === 'systemd-run').length };
}

describe('transient-unit activation', () => {
  it('starts the switch in its unit, waits for it, reads its success and clears the unit', async () => {
    const run = scripted([ABSENT, show('active', 'running'), show('active', 'exited')]);
    assert.match(await run.activate(SYSTEM, 'switch'), /succeeded/);
    assert.equal(run.started(), 1);
    assert.ok(run.calls.some((argv) => argv.join(' ') === 'systemctl stop nixos-rebuild-switch-to-configuration.service'));
  });

  it('after a restart mid-switch, waits for the running unit and never starts a second switch', async () => {
    const run = scripted([show('active', 'running'), show('active', 'running'), show('active', 'exited')]);
    await run.activate(SYSTEM, 'switch');
    assert.equal(run.started(), 0);
  });

  it('after a restart, a switch that failed meanwhile is reported with its exit status, not re-run', async () => {
    const run = scripted([show('failed', 'failed', 'exit-code', 4)]);
    await assert.rejects(run.activate(SYSTEM, 'switch'), (error) => isActivationUnitError(error) && /exit status 4/.test(error.message));
    assert.equal(run.started(), 0);
  });

  it('waits for another activation holding the unit name, then starts its own', async () => {
    const foreign = show('active', 'running', 'success', 0, '/nix/store/x/bin/switch-to-configuration switch');
    const run = scripted([foreign, foreign, ABSENT, show('active', 'exited')]);
    await run.activate(SYSTEM, 'switch');
    assert.equal(run.started(), 1);
  });

  it('runs directly where no systemd runs, and for dry-activate', async () => {
    const noSystemd = scripted([], false);
    assert.equal(await noSystemd.activate(SYSTEM, 'switch'), 'direct output');
    const dry = scripted([]);
    assert.equal(await dry.activate(SYSTEM, 'dry-activate'), 'direct output');
    assert.equal(noSystemd.started() + dry.started(), 0);
  });

  it('tells the caller of each time limit a running switch passes while it waits for it ("wait")', async () => {
    let clock = 0;
    let shows = 0;
    const heard: unknown[] = [];
    const activate = createTransientActivation({
      log: silentLogger(),
      limitMs: 1000,
      overrun: 'wait',
      pollMs: 400,
      systemdRunning: async () => true,
      runDirect: async () => 'direct output',
      run: async (argv) => {
        if (argv[0] !== 'systemctl' || argv[1] !== 'show') return { stdout: '', stderr: '' };
        shows += 1;
        return { stdout: shows === 1 ? ABSENT : shows < 9 ? show('active', 'running') : show('active', 'exited'), stderr: '' };
      },
      sleep: async (ms) => {
        clock += ms;
      },
      now: () => clock,
      systemState: async () => 'running',
    });
    assert.match(await activate(SYSTEM, 'switch', (overrun) => heard.push(overrun)), /succeeded/);
    assert.deepEqual(heard, [
      { seconds: 1, limitSeconds: 1 },
      { seconds: 2, limitSeconds: 1 },
    ]);
  });

  it('a switch stopped at its limit ("stop") fails with the reason and is not reported as waited for', async () => {
    let clock = 0;
    const heard: unknown[] = [];
    const activate = createTransientActivation({
      log: silentLogger(),
      limitMs: 1000,
      overrun: 'stop',
      pollMs: 600,
      systemdRunning: async () => true,
      runDirect: async () => 'direct output',
      run: async (argv) => ({ stdout: argv[1] === 'show' ? show('active', 'running') : '', stderr: '' }),
      sleep: async (ms) => {
        clock += ms;
      },
      now: () => clock,
      systemState: async () => 'running',
    });
    await assert.rejects(activate(SYSTEM, 'switch', (overrun) => heard.push(overrun)), /stopped by policy/);
    assert.deepEqual(heard, []);
  });
});
