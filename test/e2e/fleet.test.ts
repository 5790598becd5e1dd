// A fleet on the lab with real Nix and the real controller: enrollment by token, a release for three
// hosts with one command, long-poll reaction, rollbacks shown in status, a generation that cuts the host
// off from its controller, and reports queued while the controller cannot be reached.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileAtomic } from '../../shared/files.js';
import { createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import {
  journalOf,
  makeReleaseKey,
  readText,
  startLabController,
  waitFor,
  waitForDeployment,
  waitForHostState,
  writeAgentConfig,
  type LabController,
  type ReleaseKey,
} from './harness.js';

describe('fleet with the controller on the lab (real Nix; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let controller: LabController;
  const agents = new Map<string, LabProcess>();
  const systems: Record<string, string> = {};

  before(async () => {
    lab = await createLab({ hosts: 3, name: 'fleet' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    for (const [name, variant] of [
      ['r1-host0', 'good'],
      ['r1-host1', 'good'],
      ['r1-host2', 'good'],
      ['r2', 'good'],
      ['broken', 'broken'],
      ['cutoff', 'network-breaking'],
    ] as const) {
      systems[name] = await lab.buildSystem(variant, `fleet-${name}`);
    }
  });
  after(async () => {
    for (const agent of agents.values()) agent.kill('SIGKILL');
    await controller?.kill();
    await lab?.teardown();
  });

  const host = (index: number): LabHost => lab.hosts[index] as LabHost;

  it('enrolls three agents with one-time tokens', async () => {
    for (const h of lab.hosts) {
      const config = await writeAgentConfig(h, {
        source: controller.url,
        trustedKeys: [key.publicKey],
        controllerCheck: true,
        extra: { enrollmentTokenFile: await controller.tokenFileFor(h) },
      });
      agents.set(h.name, h.startAgent(config));
    }
    await waitFor('all three hosts enrolled', async () => {
      const result = await controller.cli(['hosts', 'list', '--json', '--config', controller.configPath]);
      const { hosts } = JSON.parse(result.stdout) as { hosts: Array<{ host: string; status: string }> };
      return hosts.filter((h) => h.status === 'enrolled').length === 3 ? true : undefined;
    });
  });

  it('publishes a release for all three hosts with one command; all converge and report healthy', async () => {
    const release = join(lab.dir, 'release-1.json');
    await writeFileAtomic(
      release,
      JSON.stringify({ hosts: { host0: systems['r1-host0'], host1: systems['r1-host1'], host2: systems['r1-host2'] } }),
    );
    const result = await controller.cli(['publish', '--controller', controller.url, '--key', key.secretFile, '--release', release]);
    assert.equal(result.code, 0, result.stderr);
    for (const index of [0, 1, 2]) {
      const status = await waitForHostState(controller, `host${index}`, 'in-sync');
      assert.equal(status.current, systems[`r1-host${index}`]);
      assert.equal(await host(index).currentSystem(), systems[`r1-host${index}`]);
      assert.equal((await host(index).healthStatus())?.status, 200);
    }
  });

  it('a long-polling agent starts deploying right after a publish', async () => {
    const published = Date.now();
    const result = await controller.publish(key, 'host0', systems['r2'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    const accepted = await waitFor('host0 to accept version 2', async () => {
      const journal = await journalOf(host(0));
      return journal.lastAccepted?.version === 2 ? Date.now() : undefined;
    }, 30_000, 20);
    process.stdout.write(`# host0 accepted the new manifest ${accepted - published} ms after the publish command returned\n`);
    await waitForHostState(controller, 'host0', 'in-sync');
  });

  it('a broken version on one host is rolled back, and status shows it with the reason', async () => {
    const result = await controller.publish(key, 'host1', systems['broken'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    const status = await waitForHostState(controller, 'host1', 'rolled-back');
    assert.match(status.error ?? '', /activation failed/);
    assert.equal(await host(1).currentSystem(), systems['r1-host1']);
    const table = await controller.cli(['status', '--controller', controller.url]);
    assert.match(table.stdout, /host1\s.*rolled-back/);
    assert.equal((await waitForHostState(controller, 'host0', 'in-sync')).host, 'host0', 'other hosts untouched');
  });

  it('a generation that cuts the host off from its controller is rolled back', async () => {
    const result = await controller.publish(key, 'host2', systems['cutoff'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    const deployment = await waitForDeployment(host(2), 2);
    assert.equal(deployment.phase, 'rolled-back');
    assert.match(deployment.reason ?? '', /controller unreachable after switch/);
    assert.equal(await host(2).currentSystem(), systems['r1-host2']);
    const status = await waitForHostState(controller, 'host2', 'rolled-back');
    assert.match(status.error ?? '', /controller unreachable/);
  });

  it('reports made while the host is cut off are queued and delivered in order afterwards', async () => {
    const logPath = join(controller.stateDir, 'reports', 'host0.log');
    const seqs = async () =>
      (await readText(logPath))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const entry = JSON.parse(line) as { envelope?: { payload: string }; payload?: string };
          const payload = entry.envelope?.payload ?? entry.payload ?? '';
          return (JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { seq: number }).seq;
        });
    const before = Math.max(0, ...(await seqs()));
    await host(0).cutLink();
    await waitFor('host0 to queue at least two reports while cut off', async () => {
      const outbox = JSON.parse((await readText(join(host(0).stateDir, 'outbox.json'))) || '{}') as { nextSeq?: number };
      return (outbox.nextSeq ?? 0) - 1 >= before + 2 ? true : undefined;
    }, 60_000, 500);
    const queuedUpTo = (JSON.parse(await readText(join(host(0).stateDir, 'outbox.json'))) as { nextSeq: number }).nextSeq - 1;
    await host(0).restoreLink();
    await waitFor('the queued reports to reach the controller', async () => ((await seqs()).includes(queuedUpTo) ? true : undefined), 60_000, 500);
    const delivered = (await seqs()).filter((seq) => seq > before && seq <= queuedUpTo);
    assert.deepEqual(delivered, [...delivered].sort((a, b) => a - b), 'delivered in order');
    assert.ok(delivered.length >= 2);
  });
});
