// On a systemd lab host (real systemd as PID 1, real Nix): switch-to-configuration runs in its own transient unit,
// so it finishes when the agent's unit is restarted or its process killed half-way through a slow activation; the
// agent, back, reads that unit's result instead of switching again. Also a generation that changes the agent's unit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import { ACTIVATION_UNIT } from '../../agent/core/activation-unit.js';
import { AGENT_ARGV, createLab, type Lab, type SystemdLabHost } from '../lab/lab.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, type LabController, type ReleaseKey } from './harness.js';
import { installUnitAgent, reportsOf } from './systemd-harness.js';

async function phaseReports(controller: LabController, host: string, version: number): Promise<string[]> {
  return (await reportsOf(controller, host)).filter((r) => r.kind === 'phase' && r.manifestVersion === version).map((r) => r.phase);
}

/** A `switch` under probation (the default): the slow activation is its `test` run. */
const SWITCH_PHASES = ['accepted', 'realising', 'realised', 'probation', 'checking-health', 'staging-boot', 'confirmed'];

describe('activation in its own transient unit on a systemd lab host (real systemd and Nix)', () => {
  let lab: Lab<SystemdLabHost>;
  let key: ReleaseKey;
  let controller: LabController;
  const systems: Record<string, string> = {};
  const host = (): SystemdLabHost => lab.hosts[0] as SystemdLabHost;

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'agent-sd-act', kind: 'systemd' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    for (const name of ['slow-restart', 'slow-kill']) {
      systems[name] = await lab.buildSystem('good', `sd-act-${name}`, { agentUnit: true, activationDelaySeconds: 6 });
    }
    for (const name of ['overrun-wait', 'overrun-stop']) {
      systems[name] = await lab.buildSystem('good', `sd-act-${name}`, { agentUnit: true, activationDelaySeconds: 6 });
    }
    systems['unit-change'] = await lab.buildSystem('agent-unit-change', 'sd-act-unit-change', { agentUnit: true, activationDelaySeconds: 3 });
    await installUnitAgent(lab, host(), { controller, key, label: 'sd-act-base' });
  });
  after(async () => {
    await controller?.kill();
    await lab?.teardown();
  });

  const confirmed = (version: number) =>
    waitFor(`host0 to confirm version ${version}`, async () => {
      const deployment = (await journalOf(host())).deployment;
      return deployment?.version === version && deployment.phase === 'confirmed' ? deployment : undefined;
    }, 120_000, 250);

  const switchRunning = () =>
    waitFor(`${ACTIVATION_UNIT} running`, async () => {
      const state = await host().unitState(`${ACTIVATION_UNIT}.service`);
      return state.activeState === 'active' && state.subState === 'running' ? state : undefined;
    }, 90_000, 100);

  const deploy = async (version: number, system: string, interrupt: () => Promise<void>) => {
    await waitFor('the agent unit active', async () => ((await host().unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined));
    const published = await controller.publish(key, 'host0', system);
    assert.equal(published.code, 0, published.stderr);
    await switchRunning();
    await interrupt();
    const deployment = await confirmed(version);
    assert.equal(deployment.storePath, system);
    assert.equal(await host().currentSystem(), system);
    assert.equal((await host().unitState('lab-service.service')).activeState, 'active');
    assert.equal((await host().exec(['systemctl', 'is-system-running'])).stdout.trim(), 'running');
    const log = await host().journal(`${ACTIVATION_UNIT}.service`);
    assert.equal(log.split('\n').filter((line) => line === `activating the configuration ${system}`).length, 1, 'the switch ran once');
    await waitFor('one report of each phase', async () => {
      const phases = await phaseReports(controller, 'host0', version);
      return phases.includes('confirmed') ? phases : undefined;
    }, 30_000, 250).then((phases) => assert.deepEqual(phases, SWITCH_PHASES));
  };

  it('systemctl restart of the agent mid-activation on a systemd host: the switch finishes and the agent confirms', async () => {
    await deploy(1, systems['slow-restart'] ?? '', async () => {
      const result = await host().exec(['systemctl', 'restart', 'tsdeploy-agent.service']);
      assert.equal(result.code, 0, result.stderr);
    });
    assert.match(await host().journal('tsdeploy-agent.service'), /still running; waiting for it|activation unit finished successfully/);
  });

  it('kill -9 of the agent mid-activation on a systemd host: the switch finishes, the agent comes back and confirms', async () => {
    await deploy(2, systems['slow-kill'] ?? '', async () => {
      const { mainPid } = await host().unitState('tsdeploy-agent.service');
      assert.ok(mainPid > 0);
      const result = await host().exec(['kill', '-9', String(mainPid)]);
      assert.equal(result.code, 0, result.stderr);
    });
  });

  it('a generation changing the agent unit on a systemd host: the switch completes, the new agent starts and confirms', async () => {
    const beforePid = (await host().unitState('tsdeploy-agent.service')).mainPid;
    await deploy(3, systems['unit-change'] ?? '', async () => undefined);
    const state = await waitFor('the agent to run under its new unit', async () => {
      const unit = await host().unitState('tsdeploy-agent.service');
      return unit.activeState === 'active' && unit.mainPid !== beforePid ? unit : undefined;
    }, 60_000, 250);
    const environ = (await host().exec(['cat', `/proc/${state.mainPid}/environ`])).stdout.split('\0');
    assert.ok(environ.includes('TSDEPLOY_LAB_UNIT_REVISION=sd-act-unit-change'), 'the new unit runs');
    assert.equal((await journalOf(host())).deployment?.phase, 'confirmed');
  });

  it('on a systemd host the agent logs with journald priorities and answers --version', async () => {
    const atLeast = async (priority: string) =>
      (await host().exec(['journalctl', '--no-pager', '-o', 'cat', '-p', priority, '-u', 'tsdeploy-agent.service'])).stdout;
    assert.match(await atLeast('info'), /manifest accepted/);
    assert.doesNotMatch(await atLeast('warning'), /manifest accepted/);
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const answered = await host().exec([...AGENT_ARGV, '--version']);
    assert.equal(answered.stdout.trim(), `tsdeploy-agent ${version}`);
  });

  /** Rewrites the agent's config (as the module would) and restarts its unit. */
  const reconfigure = async (timeouts: Record<string, unknown>): Promise<void> => {
    const path = join(host().etcTsdeployDir, 'agent.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as { timeouts: Record<string, unknown> };
    await writeFileAtomic(path, `${JSON.stringify({ ...config, timeouts: { ...config.timeouts, ...timeouts } }, null, 2)}\n`);
    assert.equal((await host().exec(['systemctl', 'restart', 'tsdeploy-agent.service'])).code, 0);
  };

  /** Publishes `system` as `version` and waits for the deployment to end. */
  const ended = async (version: number, system: string) => {
    await waitFor('the agent unit active', async () => ((await host().unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined));
    assert.equal((await controller.publish(key, 'host0', system)).code, 0);
    return waitFor(`version ${version} to end`, async () => {
      const d = (await journalOf(host())).deployment;
      return d?.version === version && ['confirmed', 'rolled-back', 'failed'].includes(d.phase) ? d : undefined;
    }, 120_000, 250);
  };

  // The previous generation's switch (3s) fits the 4s limit, so the rollback after a stop is not stopped too.
  it('an activation past its time limit on a systemd host is stopped, reported and rolled back (policy "stop")', async () => {
    const before = await host().currentSystem();
    await reconfigure({ activateSeconds: 4, onActivationOverrun: 'stop' });
    const deployment = await ended(4, systems['overrun-stop'] ?? '');
    assert.equal(deployment.phase, 'rolled-back', deployment.reason ?? '');
    assert.match(deployment.reason ?? '', /time limit of 4s; stopped by policy/);
    assert.equal(await host().currentSystem(), before);
    assert.equal((await host().unitState('lab-service.service')).activeState, 'active');
  });

  it('an activation past its time limit on a systemd host is logged as an error and waited for (policy "wait")', async () => {
    await reconfigure({ activateSeconds: 4, onActivationOverrun: 'wait' });
    const deployment = await ended(5, systems['overrun-wait'] ?? '');
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(await host().currentSystem(), systems['overrun-wait']);
    const errors = (await host().exec(['journalctl', '--no-pager', '-o', 'cat', '-p', 'err', '-u', 'tsdeploy-agent.service'])).stdout;
    assert.match(errors, /activation still running after 4s \(time limit 4s\); waiting for it to finish/);
  });
});
