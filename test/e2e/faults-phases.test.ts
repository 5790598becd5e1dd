// Faults at the phases faults.test.ts does not reach, on the lab with real Nix and the real controller: the
// rollback's profile write (after a probation and after a switch that moved the profile), the tidying after a
// rollback, nix-store and the cache while rolling back, and the preflight's dry run. Each time the host ends on a whole generation (what the profile points at is what
// runs), the journal is terminal, and the report or the agent's log says what happened.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFaultSite, failingWrapper, HOST_PATH, type FaultSite } from './faults-harness.js';
import { journalOf, waitFor, waitForHostState } from './harness.js';

describe('faults during a rollback and the preflight on the lab (real Nix; wrappers on PATH stand in for a broken nix-store and nix-env)', () => {
  let site: FaultSite;

  before(async () => {
    site = await createFaultSite('faultphases');
  });
  after(async () => {
    await site?.teardown();
  });

  const onPath = (dir: string) => ({ PATH: `${dir}:${HOST_PATH}` });

  const switchBackFails = () => site.wrapperDir('nix-env', failingWrapper('nix-env', '*" --switch-generation "*', 'injected: cannot switch the profile back'));

  it("the rollback's profile write fails after a probation (the default): the profile never moved, so the rollback needs none and is whole", async () => {
    const { deployment } = await site.deployUnder({ env: onPath(await switchBackFails()) }, 'unhealthy');
    assert.equal(deployment.phase, 'rolled-back', deployment.reason ?? '');
    await site.assertFailedCleanly(deployment, /health check failed/);
    await site.assertRecovers();
  });

  it("the rollback's profile write fails after a switch that moved the profile (probation off): failed, on the whole new generation, and the report says the rollback failed", async () => {
    const { deployment, path } = await site.deployUnder({ env: onPath(await switchBackFails()), agentConfig: { probation: false } }, 'unhealthy');
    assert.equal(deployment.phase, 'failed', deployment.reason ?? '');
    assert.match(deployment.reason ?? '', /health check failed.*; rollback failed: .*injected: cannot switch the profile back/);
    // Nothing was moved back, so nothing is half moved: the profile points at the generation that runs.
    const running = await site.host.currentSystem();
    assert.equal(running, path, 'the rollback never started to activate the previous system');
    assert.equal((await site.host.profileGenerations()).find((generation) => generation.current)?.path, running, 'the profile points at what runs');
    const journal = await journalOf(site.host);
    assert.equal(journal.deployment?.version, site.version);
    assert.equal(journal.deployment?.phase, 'failed');
    site.startAgent({}, 'report-rollback-profile');
    const status = await waitForHostState(site.controller, site.host.name, 'failed');
    assert.match(status.error ?? '', /rollback failed: .*injected: cannot switch the profile back/);
    // The previous system is still a generation: the next version deploys from here.
    assert.ok((await site.host.profileGenerations()).some((generation) => generation.path === site.current), 'the previous generation is kept');
    await site.assertRecovers();
  });

  it('tidying after a rollback fails (nix-env --delete-generations exits 1): rolled back, the failed generation is left, and deleted after the next deployment', async () => {
    const dir = await site.wrapperDir('nix-env', failingWrapper('nix-env', '*" --delete-generations "*', 'injected: cannot delete generations'));
    // Probation off: the failed deployment made a generation, which the tidying after the rollback deletes.
    const { deployment, path } = await site.deployUnder({ env: onPath(dir), agentConfig: { probation: false }, waitForLog: /could not delete old generations/ }, 'unhealthy');
    assert.equal(deployment.phase, 'rolled-back', deployment.reason ?? '');
    const left = (await site.host.profileGenerations()).find((generation) => generation.path === path);
    assert.ok(left !== undefined && !left.current, 'the failed generation is still listed, and not current');
    await site.assertFailedCleanly(deployment, /health check failed/);
    await site.assertRecovers();
    // The agent tidies right after it journals the next deployment as confirmed: wait for that step, not a time.
    await waitFor('the next deployment to delete the failed generation', async () =>
      (await site.host.profileGenerations()).some((generation) => generation.path === path) ? undefined : true,
    );
  });

  it('a rollback needs neither the cache nor nix-store: both failing for the previous system, the unhealthy generation is still rolled back whole', async () => {
    const nixConf = join(site.host.dir, 'etc-nix', 'nix.conf');
    const original = await readFile(nixConf, 'utf8');
    const dir = await site.wrapperDir('nix-store', failingWrapper('nix-store', `*"${site.current}"*`, 'injected: nix-store failed for the previous system'));
    const { deployment } = await site.deployUnder(
      {
        env: onPath(dir),
        // The new closure is fetched now, while the cache answers; the deployment then finds it in the store.
        setUp: async (path) => {
          const fetched = await site.host.exec(['nix-store', '--realise', path]);
          assert.equal(fetched.code, 0, fetched.stderr);
          await writeFile(nixConf, original.replace(/^substituters = .*$/m, 'substituters = http://127.0.0.1:9'));
        },
        tearDown: () => writeFile(nixConf, original),
      },
      'unhealthy',
    );
    assert.equal(deployment.phase, 'rolled-back', deployment.reason ?? '');
    await site.assertFailedCleanly(deployment, /health check failed/);
    await site.assertRecovers();
  });

  it("the preflight's dry run fails (nix-store --realise --dry-run exits 1): the deployment goes on without a size check, is confirmed, and the log says so", async () => {
    const dir = await site.wrapperDir('nix-store', failingWrapper('nix-store', '*" --realise --dry-run "*', 'injected: dry run failed'));
    const { deployment, path } = await site.deployUnder({ env: onPath(dir), waitForLog: /dry run failed \(.*injected: dry run failed/ });
    assert.equal(deployment.phase, 'confirmed', deployment.reason ?? '');
    assert.equal(await site.host.currentSystem(), path);
    assert.equal((await site.host.profileGenerations()).find((generation) => generation.current)?.path, path);
    site.ran(path);
    site.startAgent({}, 'report-dry-run');
    const status = await waitForHostState(site.controller, site.host.name, 'in-sync');
    assert.equal(status.current, path);
    assert.equal(status.error, null);
  });
});
