// The agent end to end on the fleet lab with real Nix, pulling from a file:// source (no controller):
// first deployment, upgrade, activation and health failures rolled back, refused manifests, pre-flight.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeEnvelope } from '../../shared/dsse.js';
import type { Activation } from '../../shared/manifest.js';
import { ReportSchema, type Report } from '../../shared/report.js';
import { createLab, type Lab, type LabHost } from '../lab/lab.js';
import { agentCli, journalOf, makeReleaseKey, publishToDirectory, signedManifest, writeAgentConfig, type ReleaseKey } from './harness.js';

/** The signed reports the agent has queued (no controller here), oldest first. */
async function queuedReports(host: LabHost): Promise<Report[]> {
  const dir = join(host.stateDir, 'outbox');
  const names = (await readdir(dir)).sort();
  return Promise.all(
    names.map(async (name) => {
      const envelope = decodeEnvelope(await readFile(join(dir, name)));
      return ReportSchema.parse(JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')));
    }),
  );
}

describe('agent with a file:// source on the fleet lab (real Nix; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let host: LabHost;
  let fresh: LabHost;
  let modes: LabHost;
  let dir: string;
  let config: string;
  const systems: Record<string, string> = {};

  before(async () => {
    lab = await createLab({ hosts: 3, name: 'agentfile' });
    key = await makeReleaseKey(lab);
    [host, fresh, modes] = lab.hosts as [LabHost, LabHost, LabHost];
    dir = join(lab.dir, 'mirror');
    config = await writeAgentConfig(host, { source: `file://${dir}`, trustedKeys: [key.publicKey] });
    for (const [name, variant] of [
      ['v1', 'good'],
      ['v2', 'good'],
      ['v3', 'broken'],
      ['v4', 'unhealthy'],
      ['m2', 'good'],
      ['m3', 'good'],
    ] as const) {
      systems[name] = await lab.buildSystem(variant, `file-${name}`);
    }
  });
  after(async () => {
    await lab?.teardown();
  });

  async function deploy(target: LabHost, cfg: string, version: number, path: string, activation: Activation = 'switch') {
    await publishToDirectory(dir, target.name, signedManifest(key, target.name, path, version, { activation }));
    return agentCli(target, ['once', '--config', cfg]);
  }

  it('first deployment: realises from the signed cache into an empty store, sets generation 1, switches, confirms', async () => {
    assert.equal(await host.currentSystem(), null);
    const result = await deploy(host, config, 1, systems['v1'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await host.currentSystem(), systems['v1']);
    assert.deepEqual((await host.profileGenerations()).map((g) => [g.number, g.path, g.current]), [[1, systems['v1'], true]]);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'file-v1' });
    const journal = await journalOf(host);
    assert.equal(journal.deployment?.phase, 'confirmed');
    assert.deepEqual(journal.lastAccepted?.version, 1);
  });

  it('an unchanged manifest is a no-op', async () => {
    const result = await agentCli(host, ['once', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await host.profileGenerations()).length, 1);
  });

  it('upgrade: a new version becomes generation 2 and is confirmed healthy', async () => {
    const result = await deploy(host, config, 2, systems['v2'] ?? '');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await host.currentSystem(), systems['v2']);
    const generations = await host.profileGenerations();
    assert.deepEqual(generations.map((g) => [g.number, g.current]), [[1, false], [2, true]]);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'file-v2' });
  });

  it('activation failure: rolls back to the exact previous generation and marks the version failed', async () => {
    const result = await deploy(host, config, 3, systems['v3'] ?? '');
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /rolled-back \(activation failed/);
    assert.equal(await host.currentSystem(), systems['v2']);
    const current = (await host.profileGenerations()).find((g) => g.current);
    assert.deepEqual([current?.number, current?.path], [2, systems['v2']]);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'file-v2' });
    const journal = await journalOf(host);
    assert.equal(journal.deployment?.phase, 'rolled-back');
    assert.ok(journal.failedVersions.includes(3));
  });

  it('the failed version is not retried (once --json says so for scripts)', async () => {
    const result = await agentCli(host, ['once', '--config', config, '--json']);
    assert.equal(result.code, 4);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual([summary['result'], summary['version'], summary['phase'], summary['exitCode']], ['unchanged', 3, 'rolled-back', 4]);
    assert.equal(await host.currentSystem(), systems['v2']);
    // Probation activates with `test` before the profile is touched, so the failed version never became a generation.
    assert.deepEqual((await host.profileGenerations()).map((g) => g.path), [systems['v1'], systems['v2']]);
  });

  it('health failure: an activation that succeeds but serves 500 is rolled back', async () => {
    const result = await deploy(host, config, 4, systems['v4'] ?? '');
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /health check failed: http .*HTTP 500/);
    assert.equal(await host.currentSystem(), systems['v2']);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'file-v2' });
    const journal = await journalOf(host);
    assert.equal(journal.lastHealth?.ok, true, 'the health of the generation rolled back to is recorded');
  });

  it('a replayed old manifest is refused as a rollback and changes nothing', async () => {
    const before = await host.profileGenerations();
    const result = await deploy(host, config, 2, systems['v1'] ?? '');
    assert.equal(result.code, 3);
    assert.match(result.stderr, /rejected: version rollback \(2 < 4\)/);
    assert.deepEqual(await host.profileGenerations(), before);
    assert.equal((await journalOf(host)).lastAccepted?.version, 4);
    const reports = await queuedReports(host);
    const last = reports[reports.length - 1];
    assert.equal(last?.phase, 'rejected', 'a signed report of the refusal is queued for the controller');
    assert.match(last?.error ?? '', /version rollback \(2 < 4\)/);
  });

  it('an expired manifest is refused', async () => {
    const stale = signedManifest(key, host.name, systems['v1'] ?? '', 9, { now: new Date(Date.now() - 7_200_000), expiresInMs: 3_600_000 });
    await publishToDirectory(dir, host.name, stale);
    const result = await agentCli(host, ['once', '--config', config]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /rejected: expired/);
    assert.equal(await host.currentSystem(), systems['v2']);
    const reports = await queuedReports(host);
    assert.match(reports[reports.length - 1]?.error ?? '', /manifest rejected: expired/);
  });

  it('a manifest for another host is refused', async () => {
    await publishToDirectory(dir, host.name, signedManifest(key, host.name, systems['v1'] ?? '', 10, { host: 'someone-else' }));
    const result = await agentCli(host, ['once', '--config', config]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /rejected: wrong host/);
  });

  it('a manifest signed by an untrusted key is refused', async () => {
    const rogue = await makeReleaseKey(lab, 'rogue-1');
    await publishToDirectory(dir, host.name, signedManifest(rogue, host.name, systems['v1'] ?? '', 11));
    const result = await agentCli(host, ['once', '--config', config]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /rejected: bad or too few signatures/);
    assert.equal(await host.currentSystem(), systems['v2']);
  });

  it('a first deployment that fails says it cannot roll back', async () => {
    const cfg = await writeAgentConfig(fresh, { source: `file://${dir}`, trustedKeys: [key.publicKey] });
    const result = await deploy(fresh, cfg, 1, systems['v3'] ?? '');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /first deployment on this host: no previous generation to roll back to/);
    assert.equal((await journalOf(fresh)).deployment?.phase, 'failed');
  });

  it('pre-flight: refuses a closure that would not leave the configured free space, before fetching anything', async () => {
    const cfg = await writeAgentConfig(fresh, {
      source: `file://${dir}`,
      trustedKeys: [key.publicKey],
      extra: { minFreeBytes: 1024 ** 5 },
    });
    const result = await deploy(fresh, cfg, 2, systems['v1'] ?? '');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not enough space for the closure on the Nix store/);
    assert.equal((await fresh.exec(['test', '-e', systems['v1'] ?? ''])).code, 1, 'nothing was fetched');
  });

  it('status --json shows the journal, generation and last health', async () => {
    const result = await agentCli(host, ['status', '--config', config, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as { currentSystem: string; generation: number; lastAccepted: { version: number } };
    assert.equal(status.currentSystem, systems['v2']);
    assert.equal(status.generation, 2);
  });

  it('manual rollback returns to the generation before the current one and checks its health', async () => {
    const result = await agentCli(host, ['rollback', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await host.currentSystem(), systems['v1']);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'file-v1' });
  });

  describe('activation modes', () => {
    let cfg: string;
    const generations = async () => (await modes.profileGenerations()).map((g) => [g.number, g.path, g.current]);

    it('switch: the base generation', async () => {
      cfg = await writeAgentConfig(modes, { source: `file://${dir}`, trustedKeys: [key.publicKey] });
      const result = await deploy(modes, cfg, 1, systems['v1'] ?? '');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await modes.currentSystem(), systems['v1']);
    });

    it('dry-activate: realises and reports what would change, and changes nothing', async () => {
      const before = await generations();
      const result = await deploy(modes, cfg, 2, systems['m2'] ?? '', 'dry-activate');
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /would activate/);
      assert.equal(await modes.currentSystem(), systems['v1']);
      assert.deepEqual(await generations(), before);
      assert.equal((await journalOf(modes)).deployment?.phase, 'confirmed');
    });

    it('boot: sets the profile and the boot entry, and leaves the running system alone', async () => {
      const result = await deploy(modes, cfg, 3, systems['m2'] ?? '', 'boot');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await modes.currentSystem(), systems['v1']);
      assert.deepEqual(await generations(), [
        [1, systems['v1'], false],
        [2, systems['m2'], true],
      ]);
      assert.equal((await modes.exec(['readlink', '/nix/var/lab/boot-default'])).stdout.trim(), systems['m2']);
      assert.deepEqual(await modes.healthStatus(), { status: 200, body: 'file-v1' });
    });

    it('test: activates without touching the profile', async () => {
      const result = await deploy(modes, cfg, 4, systems['m3'] ?? '', 'test');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await modes.currentSystem(), systems['m3']);
      assert.equal((await modes.profileGenerations()).find((g) => g.current)?.path, systems['m2']);
      assert.deepEqual(await modes.healthStatus(), { status: 200, body: 'file-m3' });
    });

    it('test: an unhealthy test activation returns to the system that was running', async () => {
      const result = await deploy(modes, cfg, 5, systems['v4'] ?? '', 'test');
      assert.equal(result.code, 4, result.stderr);
      assert.equal(await modes.currentSystem(), systems['m3']);
      assert.equal((await modes.profileGenerations()).find((g) => g.current)?.path, systems['m2']);
      assert.deepEqual(await modes.healthStatus(), { status: 200, body: 'file-m3' });
    });
  });
});
