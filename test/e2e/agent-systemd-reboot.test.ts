// Reboots by the agent on a systemd lab host (real systemd, real Nix, real `systemctl reboot`; the kernel is a file of
// the system and the boot loader a symlink, so no real kernel switch): a kernel change waits for its maintenance
// window, reboots once and is confirmed on the booted generation; an unhealthy booted generation returns to the
// previous one with one more reboot; inhibitor locks hold a reboot back and are reported.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Deployment } from '../../agent/core/journal.js';
import { LAB_AGENT_CONFIG } from '../lab/agent-unit.js';
import { AGENT_ARGV, createLab, type Lab, type SystemdLabHost } from '../lab/lab.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, type LabController, type ReleaseKey } from './harness.js';
import { installUnitAgent, reconfigureUnitAgent, reportsOf, type ReportSeen } from './systemd-harness.js';

describe('reboots by the agent on a systemd lab host (real systemd, Nix and reboots; no real kernel switch)', () => {
  let lab: Lab<SystemdLabHost>;
  let key: ReleaseKey;
  let controller: LabController;
  let running = '';
  let version = 0;
  const host = (): SystemdLabHost => lab.hosts[0] as SystemdLabHost;

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'agent-sd-reboot', kind: 'systemd' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    running = await installUnitAgent(lab, host(), { controller, key, label: 'sd-reboot-base' });
    // As an installed NixOS has: a boot of its system, so /run/booted-system names it.
    await host().reboot();
  });
  after(async () => {
    await controller?.kill();
    await lab?.teardown();
  });

  const agentActive = () =>
    waitFor('the agent unit active', async () => ((await host().unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined), 90_000, 250);

  /** Points the agent at other reboot settings (its unit restarts) and publishes `system` as the next version. */
  const deploy = async (system: string, reboot: Record<string, unknown>): Promise<number> => {
    await agentActive();
    await reconfigureUnitAgent(host(), { controller, key, config: { reboot: 'when-needed', ...reboot } });
    await agentActive();
    version += 1;
    const published = await controller.publish(key, 'host0', system);
    assert.equal(published.code, 0, published.stderr);
    return version;
  };

  const journalWhere = (what: string, probe: (d: Deployment) => boolean, timeoutMs = 240_000) =>
    waitFor(what, async () => {
      const deployment = (await journalOf(host())).deployment;
      return deployment?.version === version && probe(deployment) ? deployment : undefined;
    }, timeoutMs, 250);
  const ended = () => journalWhere(`version ${version} to end`, (d) => ['confirmed', 'rolled-back', 'failed'].includes(d.phase), 300_000);

  const reportsOfVersion = async (v: number): Promise<ReportSeen[]> => (await reportsOf(controller, 'host0')).filter((r) => r.manifestVersion === v);
  const readlink = async (path: string) => (await host().exec(['readlink', '-f', path])).stdout.trim();

  /** The host runs, boots and would boot `system`, and its service answers. */
  const settledOn = async (system: string): Promise<void> => {
    assert.equal(await host().bootedSystem(), system);
    assert.equal(await host().currentSystem(), system);
    assert.equal(await readlink('/nix/var/nix/profiles/system'), system);
    assert.equal(await readlink('/nix/var/lab/boot-default'), system);
    assert.equal((await host().healthStatus())?.status, 200);
  };

  it('a kernel change with reboot "when-needed" on a systemd host waits for its maintenance window, reboots once, checks the booted generation and confirms', async () => {
    const kernel = await lab.buildSystem('new-kernel', 'sd-reboot-kernel', { agentUnit: true });
    // A window opening 90 s from now by the host's own clock and time zone: long enough to see the agent wait for it.
    const opensAt = Math.ceil(Date.now() / 1000) + 90;
    const [second, minute, hour] = (await host().exec(['date', '-d', `@${opensAt}`, '+%-S %-M %-H'])).stdout.trim().split(' ');
    const v = await deploy(kernel, { maintenanceWindow: { schedule: `${second} ${minute} ${hour} * * *`, duration: '10m' }, rebootDelay: '5s' });
    const bootBefore = (await host().bootInfo()).bootId;

    const waiting = await journalWhere('the agent waiting for its window', (d) => d.phase === 'awaiting-reboot' && d.reboot?.waiting != null, 120_000);
    if (Date.now() < opensAt * 1000) {
      // Still before the window: nothing of the new generation runs yet, but it is the boot default.
      assert.match(waiting.reboot?.waiting ?? '', new RegExp(`outside the maintenance window; it opens at ${new Date(opensAt * 1000).toISOString()}`));
      assert.equal(await host().currentSystem(), running);
      assert.equal(await readlink('/nix/var/lab/boot-default'), kernel);
      assert.equal((await host().bootInfo()).bootId, bootBefore);
    }

    const deployment = await ended();
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(deployment.reboot?.stage, 'booted');
    assert.equal(deployment.reboot?.reboots, 1);
    assert.ok(Date.parse(deployment.reboot?.requestedAt ?? '') >= opensAt * 1000, `rebooted at ${deployment.reboot?.requestedAt}, before the window opened`);
    assert.notEqual((await host().bootInfo()).bootId, bootBefore);
    await settledOn(kernel);
    running = kernel;

    const reports = await waitFor('the confirmation at the controller', async () => {
      const seen = await reportsOfVersion(v);
      return seen.some((r) => r.phase === 'confirmed') ? seen : undefined;
    }, 60_000, 250);
    const phases = reports.filter((r) => r.kind === 'phase').map((r) => r.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    assert.deepEqual(phases.slice(-4), ['awaiting-reboot', 'rebooting', 'checking-health', 'confirmed']);
    assert.equal(reports.filter((r) => r.kind === 'phase' && r.phase === 'rebooting').length, 1, 'one reboot');
    assert.ok(reports.some((r) => r.phase === 'awaiting-reboot' && /outside the maintenance window/.test(r.reboot?.waiting ?? '')));

    const status = await host().exec([...AGENT_ARGV, 'status', '--json', '--config', LAB_AGENT_CONFIG]);
    assert.equal((JSON.parse(status.stdout) as { rebootNeeded: boolean }).rebootNeeded, false);
  });

  it('an unhealthy booted generation on a systemd host returns to the previous one with one more reboot and reports it', async () => {
    const sick = await lab.buildSystem('unhealthy', 'sd-reboot-sick', { agentUnit: true, kernelVersion: '6.7.0-lab' });
    const v = await deploy(sick, {});
    const deployment = await ended();
    assert.equal(deployment.phase, 'rolled-back', deployment.reason ?? '');
    assert.match(deployment.reason ?? '', /unhealthy after the reboot into this generation: health check failed/);
    assert.equal(deployment.reboot?.stage, 'reverted');
    assert.equal(deployment.reboot?.reboots, 2);
    await settledOn(running);
    assert.ok((await journalOf(host())).failedVersions.includes(v));

    const reports = await waitFor('the rollback at the controller', async () => {
      const seen = await reportsOfVersion(v);
      return seen.some((r) => r.phase === 'rolled-back') ? seen : undefined;
    }, 60_000, 250);
    assert.equal(reports.filter((r) => r.kind === 'phase' && r.phase === 'rebooting').length, 2, 'into it and back, nothing more');
    assert.match(reports.find((r) => r.phase === 'rolled-back')?.error ?? '', /unhealthy after the reboot/);
    const row = (await controller.status()).hosts.find((h) => h.host === 'host0');
    assert.equal(row?.state, 'rolled-back');
  });

  it('inhibitor locks on a systemd host hold a reboot back and are reported; it happens once they are gone', async () => {
    const kernel = await lab.buildSystem('new-kernel', 'sd-reboot-locked', { agentUnit: true, kernelVersion: '6.8.0-lab' });
    const hold = async (unit: string, args: readonly string[]) =>
      assert.equal((await host().exec(['systemd-run', `--unit=${unit}`, '--', 'systemd-inhibit', ...args, 'sleep', '900'])).code, 0);
    await hold('lab-lock-backup', ['--what=shutdown', '--who=lab backup', '--why=a backup that must finish', '--mode=block']);
    await hold('lab-lock-switch', ['--what=shutdown:sleep', '--who=switch-to-configuration', '--why=a hand-run NixOS switch', '--mode=delay']);
    const bootBefore = (await host().bootInfo()).bootId;
    const v = await deploy(kernel, {});

    const both = await waitFor('a report naming both locks', async () =>
      (await reportsOfVersion(v)).find((r) => r.phase === 'awaiting-reboot' && (r.reboot?.inhibitors.length ?? 0) === 2), 180_000, 250);
    assert.match(both.reboot?.waiting ?? '', /held back by inhibitor locks "lab backup" \(shutdown, block: a backup that must finish\), "switch-to-configuration"/);
    assert.equal((await host().bootInfo()).bootId, bootBefore);

    assert.equal((await host().exec(['systemctl', 'stop', 'lab-lock-backup.service'])).code, 0);
    const one = await waitFor('a report naming the switch lock alone', async () =>
      (await reportsOfVersion(v)).find((r) => r.phase === 'awaiting-reboot' && r.reboot?.inhibitors.length === 1), 120_000, 250);
    assert.equal(one.reboot?.inhibitors[0]?.who, 'switch-to-configuration');
    assert.equal((await host().bootInfo()).bootId, bootBefore);

    assert.equal((await host().exec(['systemctl', 'stop', 'lab-lock-switch.service'])).code, 0);
    const deployment = await ended();
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(deployment.reboot?.reboots, 1);
    await settledOn(kernel);
  });
});
