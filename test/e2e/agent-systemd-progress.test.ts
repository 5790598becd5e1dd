// Realise progress on a systemd lab host (real systemd, real Nix substituting a large closure from the lab's signed
// cache, served at a fixed rate so it takes a while): the agent's `status --json` and the controller's status JSON
// show paths and bytes done of the total while the closure arrives, and reports carry them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RealiseProgress } from '../../shared/report.js';
import { LAB_AGENT_CONFIG } from '../lab/agent-unit.js';
import { AGENT_ARGV, createLab, type Lab, type SystemdLabHost } from '../lab/lab.js';
import { journalOf, makeReleaseKey, startLabController, waitFor, type LabController, type ReleaseKey } from './harness.js';
import { installUnitAgent, reportsOf } from './systemd-harness.js';

/** 48 MiB at 4 MiB/s: about 12 s of fetching, several looks at the store in between. */
const BLOB_MIB = 48;
const RATE = 4 * 1048576;

const partial = (p: RealiseProgress | null | undefined): p is RealiseProgress =>
  p !== null && p !== undefined && !p.finished && p.bytesDone > 0 && p.bytesDone < p.bytesTotal;

describe('realise progress on a systemd lab host (real systemd and Nix; a large closure from a rate-limited cache)', () => {
  let lab: Lab<SystemdLabHost>;
  let key: ReleaseKey;
  let controller: LabController;
  const host = (): SystemdLabHost => lab.hosts[0] as SystemdLabHost;

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'agent-sd-progress', kind: 'systemd', cacheBytesPerSecond: RATE });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    await installUnitAgent(lab, host(), { controller, key, label: 'sd-progress-base' });
  });
  after(async () => {
    await controller?.kill();
    await lab?.teardown();
  });

  it('shows paths and bytes done of the total in status --json and the controller status while the large system is fetched', async () => {
    const large = await lab.buildSystem('large', 'sd-progress-large', { agentUnit: true, sizeMiB: BLOB_MIB });
    await waitFor('the agent unit active', async () => ((await host().unitState('tsdeploy-agent.service')).activeState === 'active' ? true : undefined), 90_000, 250);
    assert.equal((await controller.publish(key, 'host0', large)).code, 0);

    const agentStatus = async (): Promise<{ deployment: { phase: string } | null; realiseProgress: RealiseProgress | null }> => {
      const result = await host().exec([...AGENT_ARGV, 'status', '--json', '--config', LAB_AGENT_CONFIG]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as { deployment: { phase: string } | null; realiseProgress: RealiseProgress | null };
    };
    const controllerProgress = async (): Promise<RealiseProgress | null> => {
      const row = (await controller.status()).hosts.find((h) => h.host === 'host0') as { progress?: RealiseProgress | null } | undefined;
      return row?.progress ?? null;
    };

    // Both are looked at side by side while the closure arrives.
    let seenAtAgent: RealiseProgress | null = null;
    let seenAtController: RealiseProgress | null = null;
    await waitFor('progress under way in both status views', async () => {
      const [agent, central] = await Promise.all([agentStatus(), controllerProgress()]);
      if (agent.deployment?.phase === 'realising' && partial(agent.realiseProgress)) seenAtAgent ??= agent.realiseProgress;
      if (partial(central)) seenAtController ??= central;
      if (agent.deployment !== null && !['accepted', 'realising'].includes(agent.deployment.phase)) {
        throw new Error(`the realise ended (${agent.deployment.phase}) before progress was seen in both views`);
      }
      return seenAtAgent !== null && seenAtController !== null ? true : undefined;
    }, 180_000, 200);
    assert.ok(seenAtAgent !== null && seenAtController !== null);
    const atAgent: RealiseProgress = seenAtAgent;
    assert.ok(atAgent.pathsTotal > 1);
    assert.ok(atAgent.bytesTotal >= BLOB_MIB * 1048576);

    const deployment = await waitFor('the deployment to end', async () => {
      const d = (await journalOf(host())).deployment;
      return d !== null && ['confirmed', 'rolled-back', 'failed'].includes(d.phase) ? d : undefined;
    }, 240_000, 250);
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    const final = (await agentStatus()).realiseProgress;
    assert.ok(final !== null, 'status --json keeps the finished realise');
    const { pathsDone, pathsTotal, bytesDone, bytesTotal, finished } = final;
    assert.deepEqual(
      { pathsDone, pathsTotal, bytesDone, bytesTotal, finished },
      { pathsDone: atAgent.pathsTotal, pathsTotal: atAgent.pathsTotal, bytesDone: atAgent.bytesTotal, bytesTotal: atAgent.bytesTotal, finished: true },
    );

    const progressReports = (await reportsOf(controller, 'host0')).filter((r) => r.progress !== undefined);
    assert.ok(progressReports.every((r) => r.kind === 'heartbeat' && r.phase === 'realising'));
    const bytes = progressReports.map((r) => r.progress?.bytesDone ?? -1);
    assert.deepEqual(bytes, [...bytes].sort((a, b) => a - b), 'bytes done only grow');
    assert.ok(progressReports.some((r) => partial(r.progress)));
    assert.equal(progressReports.at(-1)?.progress?.finished, true);
  });
});
