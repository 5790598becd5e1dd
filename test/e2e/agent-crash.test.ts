// kill -9 of the agent at every phase boundary, on the lab with real Nix and the real controller:
// after a restart the host ends confirmed on the new generation or back on the previous one, the
// journal is consistent, and the controller has the right report.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Deployment } from '../../agent/core/journal.js';
import { AGENT_MAIN, createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import { TSX_IMPORT } from '../lab/cache.js';
import {
  journalOf,
  makeReleaseKey,
  startLabController,
  waitFor,
  waitForDeployment,
  waitForHostState,
  writeAgentConfig,
  type LabController,
  type ReleaseKey,
} from './harness.js';

/** The process state letter from /proc (T = stopped), or null once it is gone. */
async function processState(pid: number): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null);
}

describe('agent kill -9 matrix on the lab (real Nix; no systemd as PID 1: the test restarts the agent and kills its commands as systemd would)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let controller: LabController;
  let host: LabHost;
  let config: string;
  let version = 0;
  let current = '';
  let agent: LabProcess | null = null;

  const startAgent = (env: Record<string, string> = {}): LabProcess =>
    host.spawn([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, 'run', '--config', config], {
      env,
      logFile: join(host.dir, `agent-${version}-${Object.keys(env).length === 0 ? 'run' : 'faulty'}.log`),
    });

  /** kill -9 of the agent; then its commands die too, as systemd kills what is left in the unit's cgroup. */
  const killAgent = async (): Promise<void> => {
    if (agent === null) return;
    agent.kill('SIGKILL');
    await agent.exited;
    agent = null;
    await host.exec(['pkill', '-9', '-f', '^(nix-store|nix-env|/nix/store/[^ ]*/bin/switch-to-configuration|/bin/sh /nix/store/[^ ]*/bin/switch-to-configuration)']);
  };

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'crash' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    host = lab.hosts[0] as LabHost;
    config = await writeAgentConfig(host, {
      source: controller.url,
      trustedKeys: [key.publicKey],
      controllerCheck: true,
      // This matrix pins the phases without probation; the probation phases have their own on systemd hosts.
      extra: { enrollmentTokenFile: await controller.tokenFileFor(host), probation: false },
    });
    // A first good generation, so every crash below has somewhere to roll back to.
    agent = startAgent();
    current = await lab.buildSystem('good', 'crash-base');
    version = 1;
    assert.equal((await controller.publish(key, host.name, current)).code, 0);
    await waitForHostState(controller, host.name, 'in-sync');
  });
  after(async () => {
    await killAgent();
    await controller?.kill();
    await lab?.teardown();
  });

  /**
   * Publishes a new system, lets the agent run until `stopWhen` says so (or the fault hook stops it at
   * a journaled phase), kills it with SIGKILL, restarts it, and returns the finished deployment.
   */
  async function crashAt(
    label: string,
    variant: 'good' | 'broken' | 'unhealthy' | 'large',
    options: { sizeMiB?: number; activationDelaySeconds?: number } = {},
    crash: { afterPhase: string } | { during: (deployment: Deployment | null) => Promise<boolean> },
  ): Promise<{ deployment: Deployment; path: string; journalAtKill: Deployment | null }> {
    await killAgent();
    const path = await lab.buildSystem(variant, label, options);
    version += 1;
    agent = 'afterPhase' in crash ? startAgent({ TSDEPLOY_FAULT_STOP_AFTER_PHASE: crash.afterPhase }) : startAgent();
    const running = agent;
    assert.equal((await controller.publish(key, host.name, path)).code, 0);
    if ('afterPhase' in crash) {
      await waitFor(`the agent to stop after ${crash.afterPhase}`, async () => ((await processState(running.pid)) === 'T' ? true : undefined), 120_000, 20);
    } else {
      await waitFor('the crash point', async () => ((await crash.during((await journalOf(host)).deployment)) ? true : undefined), 120_000, 10);
    }
    await killAgent();
    const journalAtKill = (await journalOf(host)).deployment;
    agent = startAgent();
    const deployment = await waitForDeployment(host, version);
    return { deployment, path, journalAtKill };
  }

  async function assertConfirmed(result: { deployment: Deployment; path: string }): Promise<void> {
    if (result.deployment.phase !== 'confirmed') {
      process.stdout.write(`# service log:\n${(await host.exec(['sh', '-c', 'tail -20 /run/lab/service.log'])).stdout}\n`);
    }
    assert.equal(result.deployment.phase, 'confirmed', result.deployment.reason ?? '');
    assert.equal(await host.currentSystem(), result.path);
    const generations = await host.profileGenerations();
    assert.equal(generations.find((g) => g.current)?.path, result.path);
    assert.equal((await host.healthStatus())?.status, 200);
    const status = await waitForHostState(controller, host.name, 'in-sync');
    assert.equal(status.current, result.path);
    current = result.path;
  }

  async function assertRolledBack(result: { deployment: Deployment; path: string }): Promise<void> {
    assert.equal(result.deployment.phase, 'rolled-back', result.deployment.reason ?? '');
    assert.equal(await host.currentSystem(), current);
    assert.equal((await host.profileGenerations()).find((g) => g.current)?.path, current);
    assert.equal((await host.healthStatus())?.status, 200);
    await waitForHostState(controller, host.name, 'rolled-back');
  }

  it('kill -9 right after accept: the restarted agent deploys and confirms', async () => {
    const result = await crashAt('crash-accept', 'good', {}, { afterPhase: 'accepted' });
    assert.equal(result.journalAtKill?.phase, 'accepted');
    await assertConfirmed(result);
  });

  it('kill -9 during realise: the interrupted realise is repeated and the deployment confirmed', async () => {
    const result = await crashAt('crash-realise', 'large', { sizeMiB: 96 }, {
      during: async (deployment) => {
        if (deployment?.phase !== 'realising') return false;
        return (await host.exec(['pgrep', '-f', 'nix-store --realise /nix/store'])).code === 0;
      },
    });
    assert.equal(result.journalAtKill?.phase, 'realising');
    await assertConfirmed(result);
  });

  it('kill -9 right after the profile is set: the profile is not set twice and activation follows', async () => {
    const generationsBefore = (await host.profileGenerations()).length;
    const result = await crashAt('crash-profile', 'good', {}, { afterPhase: 'profile-set' });
    assert.equal(result.journalAtKill?.phase, 'profile-set');
    await assertConfirmed(result);
    assert.equal((await host.profileGenerations()).length, generationsBefore + 1, 'exactly one new generation');
  });

  it('kill -9 during activation: the restarted agent finishes activation and checks health', async () => {
    const result = await crashAt('crash-activate', 'good', { activationDelaySeconds: 3 }, {
      during: async (deployment) => {
        if (deployment?.phase !== 'activating') return false;
        return (await host.exec(['pgrep', '-f', 'switch-to-configuration'])).code === 0;
      },
    });
    assert.equal(result.journalAtKill?.phase, 'activating');
    await assertConfirmed(result);
  });

  it('kill -9 during the health window: the window is run again and the generation confirmed', async () => {
    const result = await crashAt('crash-health', 'good', {}, { afterPhase: 'checking-health' });
    assert.equal(result.journalAtKill?.phase, 'checking-health');
    await assertConfirmed(result);
  });

  it('kill -9 during a rollback: the restarted agent finishes the rollback to the exact previous generation', async () => {
    const result = await crashAt('crash-rollback', 'unhealthy', {}, { afterPhase: 'rolling-back' });
    assert.equal(result.journalAtKill?.phase, 'rolling-back');
    await assertRolledBack(result);
    assert.match(result.deployment.reason ?? '', /health check failed/);
  });
});
