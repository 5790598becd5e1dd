// The profile's generations on the lab with real Nix (file:// source, no probation, so a failed version does
// become a generation): a failed generation is deleted and nix-collect-garbage reclaims its closure, two operator
// rollbacks in a row go to confirmed generations only, keepGenerations bounds the confirmed ones; and the state
// directory's lock keeps `once` and `rollback` away while the daemon deploys, not between deployments.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import { agentCli, HEALTH_URL, journalOf, makeReleaseKey, publishToDirectory, readText, signedManifest, waitFor, waitForDeployment, writeAgentConfig, type ReleaseKey } from './harness.js';

describe('generations and the state lock on the lab (real Nix; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let host: LabHost;
  let dir: string;
  let config: string;
  let daemon: LabProcess | null = null;
  const systems: Record<string, string> = {};
  const generations = async () => (await host.profileGenerations()).map((g) => [g.number, g.path, g.current]);
  const inStore = async (path: string) => (await host.exec(['test', '-e', path])).code === 0;

  before(async () => {
    lab = await createLab({ hosts: 1, name: 'generations' });
    key = await makeReleaseKey(lab);
    host = lab.hosts[0] as LabHost;
    dir = join(lab.dir, 'mirror');
    config = await writeAgentConfig(host, {
      source: `file://${dir}`,
      trustedKeys: [key.publicKey],
      extra: { probation: false, keepGenerations: 3 },
    });
    for (const [name, variant] of [
      ['v1', 'good'],
      ['v2', 'good'],
      ['v3', 'unhealthy'],
      ['v4', 'good'],
      ['v5', 'good'],
      ['v6', 'good'],
    ] as const) {
      systems[name] = await lab.buildSystem(variant, `gen-${name}`);
    }
  });
  after(async () => {
    daemon?.kill('SIGKILL');
    await lab?.teardown();
  });

  async function deploy(version: number, name: string): Promise<{ code: number | null; stderr: string }> {
    await publishToDirectory(dir, host.name, signedManifest(key, host.name, systems[name] ?? '', version));
    return agentCli(host, ['once', '--config', config]);
  }

  it('a failed version becomes a generation without probation, and is deleted once rolled back', async () => {
    assert.equal((await deploy(1, 'v1')).code, 0);
    assert.equal((await deploy(2, 'v2')).code, 0);
    const failed = await deploy(3, 'v3');
    assert.equal(failed.code, 4, failed.stderr);
    assert.equal(await host.currentSystem(), systems['v2']);
    assert.deepEqual(await generations(), [
      [1, systems['v1'], false],
      [2, systems['v2'], true],
    ]);
    const journal = await journalOf(host);
    assert.deepEqual(journal.confirmedGenerations?.map((r) => [r.generation, r.path]), [[1, systems['v1']], [2, systems['v2']]]);
    assert.deepEqual(journal.failedGenerations, [], 'deleted, so forgotten');
  });

  it('nix-collect-garbage then reclaims the failed closure, and nothing the host still needs', async () => {
    assert.equal(await inStore(systems['v3'] ?? ''), true);
    const gc = await host.exec(['nix-collect-garbage'], { timeoutMs: 120_000 });
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal(await inStore(systems['v3'] ?? ''), false, 'the failed system is gone');
    assert.equal(await inStore(systems['v1'] ?? ''), true);
    assert.equal(await inStore(systems['v2'] ?? ''), true);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'gen-v2' });
  });

  it('two operator rollbacks in a row land on confirmed generations only', async () => {
    assert.equal((await deploy(4, 'v4')).code, 0);
    assert.deepEqual((await generations()).map(([n, path]) => [n, path]), [[1, systems['v1']], [2, systems['v2']], [3, systems['v4']]]);
    const first = await agentCli(host, ['rollback', '--config', config]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await host.currentSystem(), systems['v2']);
    const second = await agentCli(host, ['rollback', '--config', config]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(await host.currentSystem(), systems['v1']);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'gen-v1' });
  });

  it('keepGenerations: only the newest 3 confirmed generations stay', async () => {
    assert.equal((await deploy(5, 'v5')).code, 0);
    assert.deepEqual(await generations(), [
      [2, systems['v2'], false],
      [3, systems['v4'], false],
      [4, systems['v5'], true],
    ]);
  });

  it('the daemon holds the state lock while it deploys: once and rollback are refused then, naming it, and run between deployments', async () => {
    // A health check that passes only once the test says so holds the daemon in its health window, by construction.
    const gate = join(host.dir, 'health-gate');
    const gated = await writeAgentConfig(host, {
      source: `file://${dir}`,
      trustedKeys: [key.publicKey],
      extra: {
        probation: false,
        keepGenerations: 3,
        health: {
          checks: [{ type: 'http', url: HEALTH_URL, timeoutSeconds: 2 }, { type: 'command', name: 'gate', argv: ['/usr/bin/test', '-e', gate] }],
          timeoutSeconds: 600,
          stableSeconds: 1,
          intervalSeconds: 0.5,
        },
      },
    });
    daemon = host.startAgent(gated, join(host.dir, 'agent-lock.log'));
    await publishToDirectory(dir, host.name, signedManifest(key, host.name, systems['v6'] ?? '', 6));
    await waitFor('the daemon to check the health of version 6', async () => {
      const deployment = (await journalOf(host)).deployment;
      return deployment?.version === 6 && deployment.phase === 'checking-health' ? true : undefined;
    });
    const lock = join(host.stateDir, 'agent.lock');
    const holder = JSON.parse(await readText(lock)) as { pid: number; command: string };
    assert.equal(holder.command, 'run');
    for (const command of ['once', 'rollback']) {
      const refused = await agentCli(host, [command, '--config', gated]);
      assert.equal(refused.code, 1, `${command}: ${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`another tsdeploy-agent holds ${lock.replace(/[.]/g, '\\.')}: pid ${holder.pid} \\(run, since [^)]+\\); try again when it has finished`));
    }
    assert.equal(await host.currentSystem(), systems['v6'], 'the refused rollback changed nothing');
    await writeFile(gate, '');
    assert.equal((await waitForDeployment(host, 6)).phase, 'confirmed');
    // Between deployments the daemon holds nothing: an operator's rollback runs.
    await waitFor('the daemon to let go of the lock', async () => ((await readText(lock)) === '' ? true : undefined));
    const rollback = await agentCli(host, ['rollback', '--config', gated]);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.equal(await host.currentSystem(), systems['v5']);
    daemon.kill('SIGTERM');
    await daemon.exited;
    daemon = null;
  });
});
