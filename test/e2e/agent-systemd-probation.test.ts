// Probation on a systemd lab host (real systemd, real Nix, reboots and power cuts): a reboot during probation
// comes back on the previous generation and says why; a power cut at each phase boundary converges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACTIVATION_UNIT } from '../../agent/core/activation-unit.js';
import type { Deployment } from '../../agent/core/journal.js';
import { REBOOTED_IN_PROBATION } from '../../agent/core/probation.js';
import { createLab, type Lab, type SystemdLabHost } from '../lab/lab.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, type LabController, type ReleaseKey } from './harness.js';
import { installUnitAgent, reportsOf } from './systemd-harness.js';

describe('probation on a systemd lab host (real systemd and Nix; reboots and power cuts)', () => {
  let lab: Lab<SystemdLabHost>;
  let key: ReleaseKey;
  let controller: LabController;
  let good: string;
  let version = 0;
  const host = (): SystemdLabHost => lab.hosts[0] as SystemdLabHost;

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'agent-sd-prob', kind: 'systemd' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    good = await installUnitAgent(lab, host(), { controller, key, label: 'sd-prob-base' });
  });
  after(async () => {
    await controller?.kill();
    await lab?.teardown();
  });

  const agentActive = () =>
    waitFor('the agent unit active', async () => ((await host().unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined), 90_000, 250);

  const ended = (v: number) =>
    waitFor(`version ${v} to end`, async () => {
      const deployment = (await journalOf(host())).deployment;
      return deployment?.version === v && ['confirmed', 'rolled-back', 'failed'].includes(deployment.phase) ? deployment : undefined;
    }, 180_000, 250);

  const profileSystem = async (): Promise<string> => (await host().exec(['readlink', '-f', '/nix/var/nix/profiles/system'])).stdout.trim();

  /** The host runs, boots and would boot `system`, and systemd is fine. */
  const settledOn = async (system: string): Promise<void> => {
    assert.equal(await host().currentSystem(), system);
    assert.equal(await profileSystem(), system);
    assert.equal((await host().exec(['readlink', '-f', '/nix/var/lab/boot-default'])).stdout.trim(), system);
    assert.equal((await host().unitState('lab-service.service')).activeState, 'active');
  };

  /** Reboots; the host comes back on the last good generation and the deployment says why. */
  const rebootedBackOnGood = async (): Promise<void> => {
    await host().reboot();
    assert.equal(await host().bootedSystem(), good);
    const deployment = await ended(version);
    assert.equal(deployment.phase, 'rolled-back', deployment.reason ?? '');
    assert.equal(deployment.reason, REBOOTED_IN_PROBATION);
    await settledOn(good);
  };

  it('a reboot during probation on a systemd host comes back on the previous generation and reports why', async () => {
    await agentActive();
    const slow = await lab.buildSystem('good', 'sd-prob-reboot', { agentUnit: true, activationDelaySeconds: 30 });
    version += 1;
    assert.equal((await controller.publish(key, 'host0', slow)).code, 0);
    await waitFor('the probation run under way', async () => {
      const state = await host().unitState(`${ACTIVATION_UNIT}.service`);
      return (await journalOf(host())).deployment?.phase === 'probation' && state.subState === 'running' ? true : undefined;
    }, 90_000, 100);
    await rebootedBackOnGood();
    const report = await waitFor('the rollback report', async () => (await reportsOf(controller, 'host0')).find((r) => r.manifestVersion === version && r.phase === 'rolled-back'), 60_000, 250);
    assert.equal(report.error, REBOOTED_IN_PROBATION);
  });

  /** Publishes `system` to an agent that stops itself (SIGSTOP) right after the journal records `phase`. */
  const publishAndStopAfter = async (phase: string, system: string): Promise<void> => {
    await agentActive();
    // The fault hook; the manager environment, and with it the hook, ends with the boot.
    assert.equal((await host().exec(['systemctl', 'set-environment', `TSDEPLOY_FAULT_STOP_AFTER_PHASE=${phase}`])).code, 0);
    assert.equal((await host().exec(['systemctl', 'restart', 'tsdeploy-agent.service'])).code, 0);
    await agentActive();
    version += 1;
    assert.equal((await controller.publish(key, 'host0', system)).code, 0);
    await waitFor(`the agent stopped after ${phase}`, async () => {
      const { mainPid } = await host().unitState('tsdeploy-agent.service');
      const stat = (await host().exec(['cat', `/proc/${mainPid}/stat`])).stdout;
      return / T /.test(stat) ? true : undefined;
    }, 120_000, 50);
    const atStop = (await journalOf(host())).deployment;
    assert.equal(atStop?.phase, phase);
    assert.equal(atStop?.version, version);
  };

  it('a reboot during the probation health window on a systemd host comes back on the previous generation and reports why', async () => {
    const next = await lab.buildSystem('good', 'sd-prob-reboot-health', { agentUnit: true });
    await publishAndStopAfter('checking-health', next);
    await rebootedBackOnGood();
  });

  /** Expected end after a power cut right after the journal records `phase`. */
  const table: Array<[Deployment['phase'], 'confirmed' | 'rolled-back']> = [
    ['accepted', 'confirmed'],
    ['realising', 'confirmed'],
    ['probation', 'rolled-back'],
    ['staging-boot', 'rolled-back'],
    ['confirmed', 'confirmed'],
  ];
  let current = '';
  for (const [phase, outcome] of table) {
    it(`a power cut on a systemd host right after "${phase}" is journaled converges (${outcome})`, async () => {
      current = current === '' ? good : current;
      const next = await lab.buildSystem('good', `sd-prob-cut-${phase}`, { agentUnit: true });
      await publishAndStopAfter(phase, next);
      await host().powerCut();
      const deployment = await ended(version);
      assert.equal(deployment.phase, outcome, deployment.reason ?? '');
      if (outcome === 'confirmed') current = next;
      await settledOn(current);
    });
  }
});
