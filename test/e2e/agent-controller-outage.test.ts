// The agent against a controller that is down, hung or not yet ready, on the lab with real Nix and the real
// controller: a controller outage during a deployment is not taken for a cut-off host; a controller that never
// answers reports holds no deployment; `once --json` says when nothing answers or enrollment is pending; and
// a dry activation's output reaches the controller's status.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathExists } from '../../shared/files.js';
import type { Report } from '../../shared/report.js';
import { TSX_IMPORT } from '../lab/cache.js';
import { createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import {
  agentCli,
  journalOf,
  makeReleaseKey,
  publishToDirectory,
  readText,
  signedManifest,
  startLabController,
  waitFor,
  waitForDeployment,
  waitForHostState,
  writeAgentConfig,
  type LabController,
  type ReleaseKey,
} from './harness.js';

const SILENT_SCRIPT = new URL('../lab/silent-controller.ts', import.meta.url).pathname;

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('agent and an absent, hung or waiting controller on the lab (real Nix, real controller; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let controller: LabController;
  let silent: LabProcess | null = null;
  let daemon: LabProcess | null = null;
  const systems: Record<string, string> = {};
  const host = (index: number): LabHost => lab.hosts[index] as LabHost;

  before(async () => {
    lab = await createLab({ hosts: 3, name: 'outage' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    for (const name of ['a1', 'a2', 'a3', 's1', 's2']) systems[name] = await lab.buildSystem('good', `outage-${name}`);
  });
  after(async () => {
    daemon?.kill('SIGKILL');
    silent?.kill('SIGKILL');
    await controller?.kill();
    await lab?.teardown();
  });

  describe('once --json when nothing can be done', () => {
    it('enrollment pending: says so as JSON, exits 1, and does not promise a retry', async () => {
      const config = await writeAgentConfig(host(0), { source: controller.url, trustedKeys: [key.publicKey] });
      const result = await agentCli(host(0), ['once', '--config', config, '--json']);
      assert.equal(result.code, 1, result.stderr);
      const summary = json(result.stdout);
      assert.deepEqual([summary['result'], summary['host'], summary['exitCode']], ['enrollment-pending', 'host0', 1]);
      assert.match(result.stderr, /enrollment pending: approve this host's key at the controller \(tsdeploy-controller hosts approve host0\)/);
      assert.doesNotMatch(result.stderr, /will retry/);
    });

    it('source unreachable: says so as JSON and exits 1', async () => {
      const config = await writeAgentConfig(host(0), { source: `http://${lab.infra.address}:8099`, trustedKeys: [key.publicKey] });
      const result = await agentCli(host(0), ['once', '--config', config, '--json']);
      assert.equal(result.code, 1, result.stderr);
      const summary = json(result.stdout);
      assert.deepEqual([summary['result'], summary['exitCode'], summary['phase']], ['unreachable', 1, null]);
      assert.match(String(summary['reason']), /cannot fetch http:\/\/.*:8099\/v1\/hosts\/host0\/manifest/);
      assert.doesNotMatch(result.stderr, /will retry/);
    });
  });

  describe('the controller goes down during a deployment', () => {
    let config: string;
    const mirror = () => join(lab.dir, 'mirror');

    it('deploys a first version through the controller, enrolled with a token', async () => {
      config = await writeAgentConfig(host(1), {
        source: controller.url,
        trustedKeys: [key.publicKey],
        controllerCheck: true,
        extra: { enrollmentTokenFile: await controller.tokenFileFor(host(1)), mirrors: [`file://${mirror()}`] },
      });
      assert.equal((await controller.publish(key, 'host1', systems['a1'] ?? '')).code, 0);
      const result = await agentCli(host(1), ['once', '--config', config]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await host(1).currentSystem(), systems['a1']);
    });

    it('with the controller down but the binary cache reachable, the new generation is confirmed, not rolled back', async () => {
      assert.equal((await controller.publish(key, 'host1', systems['a2'] ?? '')).code, 0);
      // The mirror serves the very bytes the controller signed off on; then the controller goes away.
      const served = await lab.infra.httpGet(`${controller.url}/v1/hosts/host1/manifest`, 5000);
      assert.equal(served?.status, 200);
      await publishToDirectory(mirror(), 'host1', served?.body ?? '');
      await controller.kill();
      const result = await agentCli(host(1), ['once', '--config', config, '--json']);
      const summary = json(result.stdout);
      assert.deepEqual([summary['result'], summary['phase'], summary['exitCode']], ['deployed', 'confirmed', 0], `${result.stdout}${result.stderr}`);
      assert.equal(await host(1).currentSystem(), systems['a2']);
      assert.deepEqual(await host(1).healthStatus(), { status: 200, body: 'outage-a2' });
      const journal = await journalOf(host(1));
      assert.deepEqual(journal.failedVersions, []);
      const check = journal.lastHealth?.results.find((r) => r.type === 'controller');
      assert.equal(check?.ok, false, 'the controller check did fail');
      assert.match(check?.detail ?? '', new RegExp(`the network is up \\(${lab.cache.url.replace(/[.]/g, '\\.')}.*answered HTTP \\d+\\)\\): a controller outage, not held against this generation`));
    });

    it('when the controller is back, its status shows the host in sync with what was seen', async () => {
      await controller.start();
      const result = await agentCli(host(1), ['once', '--config', config]);
      assert.equal(result.code, 0, result.stderr);
      const status = await waitForHostState(controller, 'host1', 'in-sync');
      assert.equal(status.current, systems['a2']);
    });

    it("a dry activation's output reaches the controller's status (JSON and table)", async () => {
      assert.equal((await controller.publish(key, 'host1', systems['a3'] ?? '', ['--activation', 'dry-activate'])).code, 0);
      const result = await agentCli(host(1), ['once', '--config', config]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await host(1).currentSystem(), systems['a2'], 'a dry activation changes nothing');
      await waitForHostState(controller, 'host1', 'dry-activated');
      const status = await controller.cli(['status', '--controller', controller.url, '--json']);
      const row = (JSON.parse(status.stdout) as { hosts: Array<{ host: string; activationOutput: string | null }> }).hosts.find((h) => h.host === 'host1');
      assert.match(row?.activationOutput ?? '', new RegExp(`^would activate ${systems['a3']} \\(current: ${systems['a2']}\\)\\nwould restart the following units: lab-service\\.service`));
      const table = await controller.cli(['status', '--controller', controller.url]);
      assert.match(table.stdout, /host1\s+dry-activated\s.*would activate \/nix\/store\//);
    });
  });

  describe('a controller that accepts reports and never answers them', () => {
    it('holds no deployment: two versions in a row are confirmed while the first report is still unanswered', async () => {
      const dir = join(lab.dir, 'silent');
      const ready = join(lab.dir, 'silent.ready');
      const log = join(lab.dir, 'silent.log');
      silent = lab.infra.spawn([process.execPath, '--import', TSX_IMPORT, SILENT_SCRIPT, dir, '8091', ready], { logFile: log });
      await waitFor('the silent controller to listen', async () => ((await pathExists(ready)) ? true : undefined), 30_000);
      // Every delivery waits up to 10 minutes for an answer: far longer than this test may take.
      const config = await writeAgentConfig(host(2), {
        source: `http://${lab.infra.address}:8091`,
        trustedKeys: [key.publicKey],
        extra: { timeouts: { fetchSeconds: 600, realiseSeconds: 300, activateSeconds: 120 }, poll: { intervalSeconds: 1, jitterSeconds: 0, waitSeconds: 0 } },
      });
      daemon = host(2).startAgent(config, join(host(2).dir, 'agent-silent.log'));
      await publishToDirectory(dir, 'host2', signedManifest(key, 'host2', systems['s1'] ?? '', 1));
      assert.equal((await waitForDeployment(host(2), 1)).phase, 'confirmed');
      await waitFor('a report to be held by the silent controller', async () => ((await readText(log)).includes('report held') ? true : undefined), 30_000);
      await publishToDirectory(dir, 'host2', signedManifest(key, 'host2', systems['s2'] ?? '', 2));
      const second = await waitForDeployment(host(2), 2);
      assert.equal(second.phase, 'confirmed', second.reason ?? '');
      assert.equal(await host(2).currentSystem(), systems['s2']);
      // No report was ever answered, so every one of both deployments is still queued, in order.
      const outbox = JSON.parse(await readText(join(host(2).stateDir, 'outbox.json'))) as { nextSeq: number; dropped: number };
      const queued = (await host(2).exec(['ls', join(host(2).stateDir, 'outbox')])).stdout.trim().split('\n').filter((n) => n !== '');
      assert.equal(queued.length, outbox.nextSeq - 1, 'nothing was delivered');
      const phases: Report['phase'][] = ['accepted', 'realising', 'realised', 'probation', 'checking-health', 'staging-boot', 'confirmed'];
      assert.ok(queued.length >= 2 * phases.length, `${queued.length} reports queued`);
    });
  });
});
