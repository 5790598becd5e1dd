// The driver against an in-memory Nix: deployments, crashes at every journal write, operator rollbacks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BAD, Crash, createFakeNix, createWorld, NEW, OLD, SICK, type World } from './agent-fakes.js';

/** Runs a cycle that is expected to crash, then starts a new agent on the same host and resumes. */
async function crashThenResume(world: World, crashAt: string): Promise<void> {
  await assert.rejects(world.agent(crashAt).cycle(0), Crash);
  await world.agent().resume();
}

function generationsOf(world: World): string[] {
  return [...world.nix.generations.values()];
}

describe('driver: a deployment end to end', () => {
  it('realises, sets the profile, activates, checks health and confirms', async () => {
    const world = createWorld();
    world.serve(1, NEW);
    const result = await world.agent().cycle(0);
    assert.equal(result.kind, 'deployed');
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.deepEqual(generationsOf(world), [OLD, NEW]);
    assert.equal(world.nix.currentSystem_, NEW);
    assert.deepEqual(world.nix.calls, [`dry-run ${NEW}`, `realise ${NEW}`, `set-profile ${NEW}`, `activate ${NEW} switch`]);
    assert.deepEqual(
      world.reports.map((r) => r.phase),
      ['accepted', 'realising', 'realised', 'profile-set', 'activating', 'checking-health', 'confirmed'],
    );
  });

  it('goes on without a size check when the dry run fails', async () => {
    const world = createWorld();
    world.nix.dryRunFails = true;
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
  });

  it('fails before fetching anything when the closure would not fit', async () => {
    const world = createWorld();
    Object.assign(world.config, { minFreeBytes: 2 ** 31 }); // the fake store has 1 GiB free
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'failed');
    assert.match(world.journal.deployment?.reason ?? '', /not enough space for the closure/);
    assert.ok(!world.nix.calls.some((call) => call.startsWith('realise')));
  });

  it('rolls back to the recorded generation when activation fails', async () => {
    const world = createWorld();
    world.nix.failsToActivate.add(BAD);
    world.serve(1, BAD);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.equal(world.nix.current, 1);
    assert.equal(world.nix.currentSystem_, OLD);
    assert.deepEqual(world.journal.failedVersions, [1]);
  });

  it('rolls back when the new generation is unhealthy', async () => {
    const world = createWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.match(world.journal.deployment?.reason ?? '', /health check failed/);
    assert.equal(world.nix.currentSystem_, OLD);
  });

  it('says there is nothing to roll back to on a first deployment', async () => {
    const world = createWorld(createFakeNix([]));
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'failed');
    assert.match(world.journal.deployment?.reason ?? '', /first deployment on this host/);
  });
});

describe('driver: resume after a crash in every phase', () => {
  const phases = ['accepted', 'realising', 'realised', 'profile-set', 'activating', 'checking-health'];
  for (const phase of phases) {
    it(`a crash right after "${phase}" is journaled ends confirmed on the new generation, with one new generation`, async () => {
      const world = createWorld();
      world.serve(1, NEW);
      await crashThenResume(world, phase);
      assert.equal(world.journal.deployment?.phase, 'confirmed');
      assert.equal(world.journal.deployment?.resumes, 1);
      assert.deepEqual(generationsOf(world), [OLD, NEW]);
      assert.equal(world.nix.currentSystem_, NEW);
    });
  }

  it('a crash after nix-env --set but before the journal says so does not make a second generation', async () => {
    const world = createWorld();
    world.nix.crashAfter.set('set-profile', 1);
    world.serve(1, NEW);
    await assert.rejects(world.agent().cycle(0), Crash);
    assert.equal(world.journal.deployment?.phase, 'realised');
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.deepEqual(generationsOf(world), [OLD, NEW]);
  });

  it('a crash during a rollback finishes the rollback', async () => {
    const world = createWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await crashThenResume(world, 'rolling-back');
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.equal(world.nix.current, 1);
    assert.equal(world.nix.currentSystem_, OLD);
  });

  it('a deployment interrupted more than three times is rolled back', async () => {
    const world = createWorld();
    world.serve(1, NEW);
    world.nix.crashAfter.set('activate', 4);
    await assert.rejects(world.agent().cycle(0), Crash);
    for (let i = 0; i < 3; i += 1) await assert.rejects(world.agent().resume(), Crash);
    assert.equal(world.journal.deployment?.resumes, 3);
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.match(world.journal.deployment?.reason ?? '', /interrupted 4 times/);
  });
});

describe('driver: the operator rollback goes through the journal', () => {
  it('returns to the generation before the current one and checks its health', async () => {
    const world = createWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    const result = await world.agent().rollbackManually();
    assert.deepEqual(result, { ok: true, detail: `returned to generation 1 (${OLD})` });
    assert.equal(world.journal.deployment?.trigger, 'operator');
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.equal(world.nix.current, 1);
    assert.equal(world.nix.currentSystem_, OLD);
    assert.deepEqual(world.journal.failedVersions, [], 'an operator rollback marks no version as failed');
  });

  it('an interrupted operator rollback is finished by the next start', async () => {
    const world = createWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    await assert.rejects(world.agent('rolling-back').rollbackManually(), Crash);
    assert.equal(world.journal.deployment?.phase, 'rolling-back');
    assert.equal(world.nix.current, 2, 'nothing switched yet');
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.equal(world.nix.current, 1);
    assert.equal(world.nix.currentSystem_, OLD);
  });

  it('refuses while a deployment is in progress, and when there is no older generation', async () => {
    const lonely = createWorld(createFakeNix([OLD]));
    assert.deepEqual(await lonely.agent().rollbackManually(), { ok: false, detail: 'no generation before 1 to return to' });
    const busy = createWorld();
    busy.serve(1, NEW);
    await assert.rejects(busy.agent('activating').cycle(0), Crash);
    const result = await busy.agent().rollbackManually();
    assert.equal(result.ok, false);
    assert.match(result.detail, /deployment of version 1 is in progress \(activating\)/);
  });
});

describe('driver: a failed version is not retried', () => {
  it('skips a version in failedVersions even when acceptance would take it again', async () => {
    const world = createWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    assert.deepEqual(world.journal.failedVersions, [1]);
    // A journal whose last-accepted record was lost (restored from an old backup, say).
    world.journal = { ...world.journal, lastAccepted: null };
    world.nix.calls = [];
    const result = await world.agent().cycle(0);
    assert.equal(result.kind, 'unchanged');
    assert.deepEqual(world.nix.calls, []);
    assert.equal(world.journal.lastAccepted?.version, 1);
  });

  it('takes a newer version normally', async () => {
    const world = createWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    world.serve(2, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.version, 2);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
  });
});
