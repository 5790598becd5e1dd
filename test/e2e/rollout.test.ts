// A rollout on the fleet lab with real Nix: 6 hosts, a canary and two waves. A broken generation on the
// canary rolls back there, halts the rollout, and no other host ever receives its manifest.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileAtomic } from '../../shared/files.js';
import { createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, waitForHostState, writeAgentConfig, type LabController, type ReleaseKey } from './harness.js';

describe('rollout on the fleet lab (real Nix; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let controller: LabController;
  const agents: LabProcess[] = [];
  let good = '';
  let broken = '';

  before(async () => {
    lab = await createLab({ hosts: 6, name: 'rollout' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key, 8090, { config: { rolloutTickSeconds: 1 } });
    good = await lab.buildSystem('good', 'rollout-good');
    broken = await lab.buildSystem('broken', 'rollout-broken');
    for (const h of lab.hosts) {
      const config = await writeAgentConfig(h, { source: controller.url, trustedKeys: [key.publicKey], extra: { enrollmentTokenFile: await controller.tokenFileFor(h) } });
      agents.push(h.startAgent(config));
    }
  });
  after(async () => {
    for (const agent of agents) agent.kill('SIGKILL');
    await controller?.kill();
    await lab?.teardown();
  });

  async function release(name: string, path: string, policy: object): Promise<void> {
    const file = join(lab.dir, `${name}.json`);
    const policyFile = join(lab.dir, `${name}-policy.json`);
    await writeFileAtomic(file, JSON.stringify({ hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, path])) }));
    await writeFileAtomic(policyFile, JSON.stringify(policy));
    const result = await controller.cli(['rollout', 'start', '--controller', controller.url, '--key', key.secretFile, '--release', file, '--policy', policyFile, '--id', name]);
    assert.equal(result.code, 0, result.stderr);
  }

  async function rolloutState(): Promise<{ state: string; reason: string | null }> {
    const result = await controller.cli(['rollout', 'status', '--controller', controller.url, '--json']);
    return (JSON.parse(result.stdout) as { rollout: { state: string; reason: string | null } }).rollout;
  }

  it('a good generation goes through the canary and two waves to every host', async () => {
    await release('good', good, { canary: 1, waves: '50%', bakeSeconds: 1, deadlineSeconds: 300 });
    for (const h of lab.hosts) await waitForHostState(controller, h.name, 'in-sync', 180_000);
    await waitFor('the rollout completes', async () => ((await rolloutState()).state === 'completed' ? true : undefined), 60_000);
    for (const h of lab.hosts) assert.equal(await h.currentSystem(), good);
  });

  it('a broken generation halts on the canary; no other host ever receives its manifest', async () => {
    const before = new Map<string, number>();
    for (const h of lab.hosts) before.set(h.name, (await journalOf(h)).lastAccepted?.version ?? 0);
    await release('broken', broken, { canary: 1, waves: '50%', bakeSeconds: 1, deadlineSeconds: 300 });
    const canary = lab.hosts[0] as LabHost;
    await waitForHostState(controller, canary.name, 'rolled-back', 180_000);
    await waitFor('the rollout halts', async () => ((await rolloutState()).state === 'halted' ? true : undefined), 60_000);
    assert.match((await rolloutState()).reason ?? '', new RegExp(`${canary.name}: rolled-back`));
    assert.equal(await canary.currentSystem(), good);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // more rollout ticks: still nothing released
    for (const h of lab.hosts.slice(1)) {
      assert.equal((await journalOf(h)).lastAccepted?.version, before.get(h.name), `${h.name} accepted nothing new`);
      assert.equal(await h.currentSystem(), good);
      const served = await controller.status();
      assert.equal(served.hosts.find((s) => s.host === h.name)?.desired?.storePath, good, `${h.name} is still served the good manifest`);
    }
  });
});
