// The other activation modes on a systemd lab host (real systemd and Nix, a real reboot): a `boot` manifest
// makes the generation the boot default without running it; a `dry-activate` one changes nothing and logs what
// would change; a manual `tsdeploy-agent rollback` returns to the generation before the current one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LAB_AGENT_CONFIG } from '../lab/agent-unit.js';
import { AGENT_ARGV, createLab, type Lab, type SystemdLabHost } from '../lab/lab.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, type LabController, type ReleaseKey } from './harness.js';
import { installUnitAgent } from './systemd-harness.js';

describe('boot, dry-activate and manual rollback on a systemd lab host (real systemd and Nix; a reboot)', () => {
  let lab: Lab<SystemdLabHost>;
  let key: ReleaseKey;
  let controller: LabController;
  let base: string;
  const systems: Record<string, string> = {};
  let version = 0;
  const host = (): SystemdLabHost => lab.hosts[0] as SystemdLabHost;

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'agent-sd-modes', kind: 'systemd' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    for (const name of ['r1', 'r2', 'r3']) systems[name] = await lab.buildSystem('good', `sd-modes-${name}`, { agentUnit: true });
    systems['kernel'] = await lab.buildSystem('new-kernel', 'sd-modes-kernel', { agentUnit: true });
    base = await installUnitAgent(lab, host(), { controller, key, label: 'sd-modes-base' });
  });
  after(async () => {
    await controller?.kill();
    await lab?.teardown();
  });

  const profileSystem = async (): Promise<string> => (await host().exec(['readlink', '-f', '/nix/var/nix/profiles/system'])).stdout.trim();
  const bootDefault = async (): Promise<string> => (await host().exec(['readlink', '-f', '/nix/var/lab/boot-default'])).stdout.trim();

  const deploy = async (system: string, activation: 'switch' | 'boot' | 'dry-activate') => {
    await waitFor('the agent unit active', async () => ((await host().unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined), 90_000, 250);
    version += 1;
    const published = await controller.publish(key, 'host0', system, ['--activation', activation]);
    assert.equal(published.code, 0, published.stderr);
    const v = version;
    return waitFor(`version ${v} to end`, async () => {
      const deployment = (await journalOf(host())).deployment;
      return deployment?.version === v && ['confirmed', 'rolled-back', 'failed'].includes(deployment.phase) ? deployment : undefined;
    }, 120_000, 250);
  };

  it('a boot manifest on a systemd host sets the profile and boot entry, leaves the running system, and boots it after a reboot', async () => {
    const first = await deploy(systems['r1'] ?? '', 'switch');
    assert.equal(first.phase, 'confirmed', first.reason ?? '');
    const deployment = await deploy(systems['r2'] ?? '', 'boot');
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(await profileSystem(), systems['r2']);
    assert.equal(await bootDefault(), systems['r2']);
    assert.equal(await host().currentSystem(), systems['r1'], 'the running system is unchanged');
    await host().reboot();
    assert.equal(await host().bootedSystem(), systems['r2']);
    assert.equal(await host().currentSystem(), systems['r2']);
  });

  it('a dry-activate manifest on a systemd host changes nothing and logs what would change', async () => {
    const deployment = await deploy(systems['r3'] ?? '', 'dry-activate');
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(await host().currentSystem(), systems['r2']);
    assert.equal(await profileSystem(), systems['r2']);
    assert.equal(await bootDefault(), systems['r2']);
    assert.match(await host().journal('tsdeploy-agent.service'), /would activate/);
  });

  it('a manual tsdeploy-agent rollback on a systemd host returns to the generation before the current one', async () => {
    const result = await host().exec([...AGENT_ARGV, 'rollback', '--config', LAB_AGENT_CONFIG], { timeoutMs: 180_000 });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.equal(await profileSystem(), systems['r1']);
    assert.equal(await host().currentSystem(), systems['r1']);
    assert.equal(await bootDefault(), systems['r1']);
    assert.equal((await host().unitState('lab-service.service')).activeState, 'active');
    assert.notEqual(await host().currentSystem(), base);
  });

  it('on a systemd host, status --json says a reboot is needed after a kernel change, and not after the reboot', async () => {
    const deployment = await deploy(systems['kernel'] ?? '', 'switch');
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    const status = async () => {
      const result = await host().exec([...AGENT_ARGV, 'status', '--json', '--config', LAB_AGENT_CONFIG]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as { rebootNeeded: boolean; rebootChanges: string[] };
    };
    const before = await status();
    assert.equal(before.rebootNeeded, true);
    assert.deepEqual(before.rebootChanges, ['kernel', 'initrd', 'kernel-modules']);
    assert.match(await host().journal('tsdeploy-agent.service'), /a reboot is needed to run this generation fully/);
    await host().reboot();
    assert.equal(await host().bootedSystem(), systems['kernel']);
    assert.equal((await status()).rebootNeeded, false);
  });
});
