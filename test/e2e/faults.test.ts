// Faults, not kills, on the lab with real Nix and the real controller: a nix-store that fails to realise, a
// profile write that fails, an unreachable cache, a full state directory and a full Nix store. Each time the
// host ends on a whole generation (the previous one, or none on a first deployment), the journal parses and
// ends in a terminal phase, and the report says why; with the fault gone, the next version deploys.
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Deployment } from '../../agent/core/journal.js';
import { AGENT_MAIN, createLab, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import { TSX_IMPORT } from '../lab/cache.js';
import {
  journalOf,
  makeReleaseKey,
  startLabController,
  waitForDeployment,
  waitForHostState,
  writeAgentConfig,
  type LabController,
  type ReleaseKey,
} from './harness.js';

/** The lab hosts' PATH (test/lab/netns.ts), behind which a fault's wrapper directory is put. */
const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A wrapper that fails the command when its arguments match `when`, and runs the real one otherwise. */
function failingWrapper(program: string, when: string, message: string): string {
  return [
    '#!/bin/sh',
    `case " $* " in`,
    `  ${when}) echo "${message}" >&2; exit 1 ;;`,
    'esac',
    `exec /usr/bin/${program} "$@"`,
    '',
  ].join('\n');
}

describe('faults at each phase on the lab (real Nix; wrappers on PATH stand in for a broken nix-store and nix-env; the full disks are real tmpfs mounts)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let controller: LabController;
  let host: LabHost;
  let config: string;
  let agent: LabProcess | null = null;
  let version = 0;
  let current = '';
  let faultNumber = 0;

  const startAgent = (env: Record<string, string> = {}, label = 'run'): LabProcess =>
    host.spawn([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, 'run', '--config', config], {
      env,
      logFile: join(host.dir, `agent-${version}-${label}.log`),
    });
  const stopAgent = async (): Promise<void> => {
    if (agent === null) return;
    agent.kill('SIGTERM');
    await agent.exited;
    agent = null;
  };

  before(async () => {
    lab = await createLab({ hosts: 2, name: 'faults' });
    key = await makeReleaseKey(lab);
    controller = await startLabController(lab, key);
    host = lab.hosts[0] as LabHost;
    config = await writeAgentConfig(host, {
      source: controller.url,
      trustedKeys: [key.publicKey],
      extra: { enrollmentTokenFile: await controller.tokenFileFor(host), minFreeBytes: 0 },
    });
    agent = startAgent();
    current = await lab.buildSystem('good', 'faults-base');
    version = 1;
    assert.equal((await controller.publish(key, host.name, current)).code, 0);
    await waitForHostState(controller, host.name, 'in-sync');
  });
  after(async () => {
    await stopAgent();
    await controller?.kill();
    await lab?.teardown();
  });

  /** Publishes a new good system under `fault` and returns the deployment it ended with. */
  async function deployUnder(fault: { env?: Record<string, string>; setUp?: () => Promise<void>; tearDown?: () => Promise<void> }): Promise<Deployment> {
    await stopAgent();
    faultNumber += 1;
    const path = await lab.buildSystem('good', `faults-${faultNumber}`);
    await fault.setUp?.();
    version += 1;
    agent = startAgent(fault.env ?? {}, `fault-${faultNumber}`);
    try {
      assert.equal((await controller.publish(key, host.name, path)).code, 0);
      return await waitForDeployment(host, version, ['confirmed', 'rolled-back', 'failed'], 240_000);
    } finally {
      await stopAgent();
      await fault.tearDown?.();
    }
  }

  /** The host is whole on the previous generation, the journal is terminal, and the controller heard why. */
  async function assertFailedCleanly(deployment: Deployment, reason: RegExp): Promise<void> {
    assert.ok(['failed', 'rolled-back'].includes(deployment.phase), `phase ${deployment.phase}`);
    assert.match(deployment.reason ?? '', reason);
    const journal = await journalOf(host);
    assert.equal(journal.deployment?.version, version);
    assert.equal(await host.currentSystem(), current, 'still running the previous generation');
    const generations = await host.profileGenerations();
    assert.equal(generations.find((generation) => generation.current)?.path, current, 'the profile points at a whole generation');
    assert.equal((await host.healthStatus())?.status, 200);
    agent = startAgent({}, `report-${faultNumber}`);
    const status = await waitForHostState(controller, host.name, deployment.phase === 'failed' ? 'failed' : 'rolled-back');
    assert.match(status.error ?? '', reason);
  }

  /** With the fault gone, the next version deploys and is confirmed. */
  async function assertRecovers(): Promise<void> {
    await stopAgent();
    const path = await lab.buildSystem('good', `faults-${faultNumber}-after`);
    version += 1;
    agent = startAgent({}, `after-${faultNumber}`);
    assert.equal((await controller.publish(key, host.name, path)).code, 0);
    const deployment = await waitForDeployment(host, version, ['confirmed', 'rolled-back', 'failed'], 240_000);
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(await host.currentSystem(), path);
    current = path;
  }

  async function wrapperDir(name: string, script: string): Promise<string> {
    const dir = join(host.dir, `fault-bin-${faultNumber + 1}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, name), script);
    await chmod(join(dir, name), 0o755);
    return dir;
  }

  it('realise fails (nix-store exits 1): the deployment fails before the profile moves', async () => {
    const dir = await wrapperDir('nix-store', failingWrapper('nix-store', '*" --realise "*" --add-root "*', 'injected: realise failed'));
    const deployment = await deployUnder({ env: { PATH: `${dir}:${HOST_PATH}` } });
    await assertFailedCleanly(deployment, /realise|nix-store|exit/i);
    await assertRecovers();
  });

  it('the profile write fails (nix-env --set exits 1): the previous generation stays current', async () => {
    const dir = await wrapperDir('nix-env', failingWrapper('nix-env', '*" --set "*', 'injected: cannot write the profile'));
    const deployment = await deployUnder({ env: { PATH: `${dir}:${HOST_PATH}` } });
    await assertFailedCleanly(deployment, /profile|nix-env|exit/i);
    await assertRecovers();
  });

  it('the cache is unreachable (substituter on a closed port): the realise fails and nothing is half-fetched', async () => {
    const nixConf = join(host.dir, 'etc-nix', 'nix.conf');
    const original = await readFile(nixConf, 'utf8');
    const deployment = await deployUnder({
      setUp: () => writeFile(nixConf, original.replace(/^substituters = .*$/m, 'substituters = http://127.0.0.1:9')),
      tearDown: () => writeFile(nixConf, original),
    });
    await assertFailedCleanly(deployment, /realise|nix-store|substitut|exit/i);
    await assertRecovers();
  });

  it('the state directory is a full tmpfs: no torn journal, and the deployment goes on once there is room', async () => {
    const state = host.stateDir;
    const inHost = async (script: string) => {
      const result = await host.exec(['sh', '-euc', script]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };
    await stopAgent();
    faultNumber += 1;
    const path = await lab.buildSystem('good', `faults-${faultNumber}`);
    // A 1 MiB tmpfs over the state directory inside the host's mount namespace, holding its files, then filled.
    await inHost(`rm -rf /run/state-before && cp -a ${state} /run/state-before && mount -t tmpfs -o size=1m tsdeploy-full ${state} && cp -a /run/state-before/. ${state}/ && (dd if=/dev/zero of=${state}/filler bs=4k 2>/dev/null || true)`);
    const journalBefore = await inHost(`cat ${state}/journal.json`);
    version += 1;
    agent = startAgent({}, `full-${faultNumber}`);
    assert.equal((await controller.publish(key, host.name, path)).code, 0);
    // Until there is room the agent cannot journal the new manifest, so it must not act on it.
    await new Promise((done) => setTimeout(done, 8_000));
    const journalFull = await inHost(`cat ${state}/journal.json`);
    assert.equal(journalFull, journalBefore, 'the journal is untouched (not torn) while the disk is full');
    assert.equal(await host.currentSystem(), current);
    await stopAgent();
    await inHost(`rm -f ${state}/filler`);
    agent = startAgent({}, `room-${faultNumber}`);
    const deployed = await waitForHostState(controller, host.name, 'in-sync', 240_000);
    assert.equal(deployed.current, path);
    await stopAgent();
    // Back to the real directory, carrying what the agent wrote meanwhile.
    await inHost(`rm -rf /run/state-after && cp -a ${state} /run/state-after && umount ${state} && cp -a /run/state-after/. ${state}/`);
    const journal = await journalOf(host);
    assert.equal(journal.deployment?.phase, 'confirmed');
    current = path;
    agent = startAgent({}, `after-full-${faultNumber}`);
  });

  it('the Nix store is a full tmpfs (a second host whose /nix is 4 MiB): a 16 MiB closure fails cleanly and says why', async () => {
    const small = lab.hosts[1] as LabHost;
    const inHost = async (script: string) => {
      const result = await small.exec(['sh', '-euc', script]);
      assert.equal(result.code, 0, result.stderr);
    };
    await inHost('mount -t tmpfs -o size=4m tsdeploy-full-nix /nix');
    const smallConfig = await writeAgentConfig(small, {
      source: controller.url,
      trustedKeys: [key.publicKey],
      extra: { enrollmentTokenFile: await controller.tokenFileFor(small), minFreeBytes: 0 },
    });
    const large = await lab.buildSystem('large', 'faults-full-nix', { sizeMiB: 16 });
    const smallAgent = small.spawn([process.execPath, '--import', TSX_IMPORT, AGENT_MAIN, 'run', '--config', smallConfig], {
      logFile: join(small.dir, 'agent-full-nix.log'),
    });
    try {
      assert.equal((await controller.publish(key, small.name, large)).code, 0);
      const deployment = await waitForDeployment(small, 1, ['confirmed', 'rolled-back', 'failed'], 240_000);
      assert.equal(deployment.phase, 'failed');
      assert.match(deployment.reason ?? '', /space/i);
      assert.deepEqual(await small.profileGenerations(), [], 'no generation was made from a partial closure');
      assert.equal(await small.currentSystem(), null);
      const status = await waitForHostState(controller, small.name, 'failed');
      assert.match(status.error ?? '', /space/i);
    } finally {
      smallAgent.kill('SIGTERM');
      await smallAgent.exited;
      await inHost('umount /nix');
    }
  });
});
