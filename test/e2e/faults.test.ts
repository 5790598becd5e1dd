// Faults, not kills, on the lab with real Nix and the real controller: a nix-store that fails to realise, a
// profile write that fails, an unreachable cache, a full state directory and a full Nix store. Each time the
// host ends on a whole generation (the previous one, or none on a first deployment), the journal parses and
// ends in a terminal phase, and the report says why; with the fault gone, the next version deploys. The same
// faults at the rollback's and the preflight's phases are in faults-phases.test.ts.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabHost } from '../lab/lab.js';
import { AGENT_MAIN } from '../lab/lab.js';
import { TSX_IMPORT } from '../lab/cache.js';
import { createFaultSite, failingWrapper, HOST_PATH, type FaultSite } from './faults-harness.js';
import { journalOf, waitForDeployment, waitForHostState, writeAgentConfig } from './harness.js';

describe('faults at each phase on the lab (real Nix; wrappers on PATH stand in for a broken nix-store and nix-env; the full disks are real tmpfs mounts)', () => {
  let site: FaultSite;

  before(async () => {
    site = await createFaultSite('faults', 2);
  });
  after(async () => {
    await site?.teardown();
  });

  it('realise fails (nix-store exits 1): the deployment fails before the profile moves', async () => {
    const dir = await site.wrapperDir('nix-store', failingWrapper('nix-store', '*" --realise "*" --add-root "*', 'injected: realise failed'));
    const { deployment } = await site.deployUnder({ env: { PATH: `${dir}:${HOST_PATH}` } });
    await site.assertFailedCleanly(deployment, /realise|nix-store|exit/i);
    await site.assertRecovers();
  });

  it('the profile write fails (nix-env --set exits 1): the previous generation stays current', async () => {
    const dir = await site.wrapperDir('nix-env', failingWrapper('nix-env', '*" --set "*', 'injected: cannot write the profile'));
    const { deployment } = await site.deployUnder({ env: { PATH: `${dir}:${HOST_PATH}` } });
    await site.assertFailedCleanly(deployment, /profile|nix-env|exit/i);
    await site.assertRecovers();
  });

  it('the cache is unreachable (substituter on a closed port): the realise fails and nothing is half-fetched', async () => {
    const nixConf = join(site.host.dir, 'etc-nix', 'nix.conf');
    const original = await readFile(nixConf, 'utf8');
    const { deployment } = await site.deployUnder({
      setUp: () => writeFile(nixConf, original.replace(/^substituters = .*$/m, 'substituters = http://127.0.0.1:9')),
      tearDown: () => writeFile(nixConf, original),
    });
    await site.assertFailedCleanly(deployment, /realise|nix-store|substitut|exit/i);
    await site.assertRecovers();
  });

  it('the state directory is a full tmpfs: no torn journal, nothing reported that was not journaled, the log says why, and the deployment goes on once there is room', async () => {
    const { host, controller, lab } = site;
    const state = host.stateDir;
    const inHost = async (script: string) => {
      const result = await host.exec(['sh', '-euc', script]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };
    await site.stopAgent();
    const number = site.nextFault();
    const path = await lab.buildSystem('good', `faults-${number}`);
    // A 1 MiB tmpfs over the state directory inside the host's mount namespace, holding its files, then filled.
    await inHost(`rm -rf /run/state-before && cp -a ${state} /run/state-before && mount -t tmpfs -o size=1m tsdeploy-full ${state} && cp -a /run/state-before/. ${state}/ && (dd if=/dev/zero of=${state}/filler bs=4k 2>/dev/null || true)`);
    const journalBefore = await inHost(`cat ${state}/journal.json`);
    const before = site.version;
    const logFile = site.startAgent({}, `full-${number}`);
    const version = await site.publish(path);
    // Until there is room the agent cannot journal the new manifest, so it must not act on it.
    await new Promise((done) => setTimeout(done, 8_000));
    const journalFull = await inHost(`cat ${state}/journal.json`);
    assert.equal(journalFull, journalBefore, 'the journal is untouched (not torn) while the disk is full');
    assert.equal(await host.currentSystem(), site.current);
    // Nor is anything reported that the journal does not hold: the controller's last word is still the old version's.
    const whileFull = (await controller.status()).hosts.find((h) => h.host === host.name);
    assert.equal(whileFull?.manifestVersion, before, 'no report about a version the agent could not journal');
    assert.equal(whileFull?.current, site.current);
    await site.stopAgent();
    // The report queue is on the full disk too: the agent's log is where the cause is said.
    assert.match(await readFile(logFile, 'utf8'), /ENOSPC|no space left on device/i, 'the agent log names the full disk');
    await inHost(`rm -f ${state}/filler`);
    site.startAgent({}, `room-${number}`);
    const deployed = await waitForHostState(controller, host.name, 'in-sync', 240_000);
    assert.equal(deployed.current, path);
    assert.equal(deployed.manifestVersion, version, 'the report is about the new version');
    assert.equal(deployed.outcome, 'success');
    assert.equal(deployed.error, null, 'and says nothing went wrong: the full disk delayed the deployment, it did not fail it');
    await site.stopAgent();
    // Back to the real directory, carrying what the agent wrote meanwhile.
    await inHost(`rm -rf /run/state-after && cp -a ${state} /run/state-after && umount ${state} && cp -a /run/state-after/. ${state}/`);
    const journal = await journalOf(host);
    assert.equal(journal.deployment?.phase, 'confirmed');
    site.ran(path);
    site.startAgent({}, `after-full-${number}`);
  });

  it('the Nix store is a full tmpfs (a second host whose /nix is 4 MiB): a 16 MiB closure fails cleanly and says why', async () => {
    const { lab, controller, key } = site;
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
