// Probation against the in-memory Nix: `test` first, the profile and boot entry only after a passed health
// window, crashes at every journal write, and reboots during probation that come back on the last good generation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JournalSchema } from '../../agent/core/journal.js';
import { REBOOTED_IN_PROBATION } from '../../agent/core/probation.js';
import { BAD, Crash, createWorld, NEW, OLD, SICK, type World } from './agent-fakes.js';

function probationWorld(): World {
  const world = createWorld();
  Object.assign(world.config, { probation: true });
  return world;
}

const generationsOf = (world: World): string[] => [...world.nix.generations.values()];

describe('driver: probation for switch manifests', () => {
  it('runs the generation with test, checks health, and only then sets the profile and writes the boot entry', async () => {
    const world = probationWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.equal(world.journal.deployment?.generation, 2);
    assert.deepEqual(world.nix.calls, [`dry-run ${NEW}`, `realise ${NEW}`, `activate ${NEW} test`, `set-profile ${NEW}`, `activate ${NEW} boot`]);
    assert.deepEqual(world.reports.map((r) => r.phase), ['accepted', 'realising', 'realised', 'probation', 'checking-health', 'staging-boot', 'confirmed']);
    assert.deepEqual(generationsOf(world), [OLD, NEW]);
    assert.equal(world.nix.bootEntry, NEW);
    assert.equal(world.nix.currentSystem_, NEW);
  });

  it('an unhealthy generation goes back to the previous one and the profile and boot entry were never touched', async () => {
    const world = probationWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.match(world.journal.deployment?.reason ?? '', /health check failed/);
    assert.deepEqual(generationsOf(world), [OLD]);
    assert.equal(world.nix.currentSystem_, OLD);
    assert.equal(world.nix.bootEntry, OLD);
    assert.ok(!world.nix.calls.some((call) => call.startsWith('set-profile')));
  });

  it('the rollback from probation writes no profile: the profile never moved, so a failing nix-env cannot keep the host on the sick system', async () => {
    const world = probationWorld();
    world.nix.unhealthy.add(SICK);
    world.nix.switchGeneration = async () => {
      throw new Error('nix-env --switch-generation exited with code 1');
    };
    world.serve(1, SICK);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rolled-back', world.journal.deployment?.reason ?? '');
    assert.equal(world.nix.currentSystem_, OLD);
    assert.equal(world.nix.current, 1);
  });

  it('a failed test activation goes back to the previous generation without touching the profile', async () => {
    const world = probationWorld();
    world.nix.failsToActivate.add(BAD);
    world.serve(1, BAD);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.deepEqual(generationsOf(world), [OLD]);
    assert.equal(world.nix.currentSystem_, OLD);
  });

  for (const phase of ['accepted', 'realising', 'realised', 'probation', 'checking-health', 'staging-boot']) {
    it(`a crash right after "${phase}" is journaled resumes to confirmed with one new generation`, async () => {
      const world = probationWorld();
      world.serve(1, NEW);
      await assert.rejects(world.agent(phase).cycle(0), Crash);
      await world.agent().resume();
      assert.equal(world.journal.deployment?.phase, 'confirmed');
      assert.deepEqual(generationsOf(world), [OLD, NEW]);
      assert.equal(world.nix.bootEntry, NEW);
    });
  }

  it('a crash after nix-env --set while staging the boot entry does not make a second generation', async () => {
    const world = probationWorld();
    world.nix.crashAfter.set('set-profile', 1);
    world.serve(1, NEW);
    await assert.rejects(world.agent().cycle(0), Crash);
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.deepEqual(generationsOf(world), [OLD, NEW]);
  });

  for (const phase of ['probation', 'checking-health']) {
    it(`a reboot during probation ("${phase}") comes back on the previous generation and is reported as such`, async () => {
      const world = probationWorld();
      world.serve(1, NEW);
      await assert.rejects(world.agent(phase).cycle(0), Crash);
      world.nix.reboot();
      await world.agent().resume();
      const deployment = world.journal.deployment;
      assert.equal(deployment?.phase, 'rolled-back');
      assert.equal(deployment?.reason, REBOOTED_IN_PROBATION);
      assert.equal(world.nix.currentSystem_, OLD);
      assert.deepEqual(generationsOf(world), [OLD]);
      assert.deepEqual(world.journal.failedVersions, [1]);
      const last = world.reports.at(-1);
      assert.equal(last?.phase, 'rolled-back');
      assert.equal(last?.error, REBOOTED_IN_PROBATION);
    });
  }

  it('checks that fail because the host is shutting down are never journaled: the next boot reports the reboot', async () => {
    const world = probationWorld();
    world.nix.shuttingDown = () => world.nix.healthRuns > 0;
    world.serve(1, NEW);
    await assert.rejects(world.agent().cycle(0), Crash);
    assert.equal(world.journal.deployment?.phase, 'checking-health');
    world.nix.shuttingDown = () => false;
    world.nix.reboot();
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.equal(world.journal.deployment?.reason, REBOOTED_IN_PROBATION);
  });

  it('a reboot before the boot entry was written, with the profile already set, returns to the recorded generation', async () => {
    const world = probationWorld();
    world.serve(1, NEW);
    await assert.rejects(world.agent('staging-boot').cycle(0), Crash);
    await world.nix.setProfile(world.config.profile, NEW);
    world.nix.reboot();
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.match(world.journal.deployment?.reason ?? '', /rebooted while the boot entry was being staged/);
    assert.equal(world.nix.current, 1);
    assert.equal(world.nix.currentSystem_, OLD);
  });

  it('a reboot after the boot entry was written comes up on the new generation and confirms', async () => {
    const world = probationWorld();
    world.serve(1, NEW);
    await assert.rejects(world.agent('staging-boot').cycle(0), Crash);
    await world.nix.setProfile(world.config.profile, NEW);
    await world.nix.activate(NEW, 'boot');
    world.nix.reboot();
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.equal(world.nix.currentSystem_, NEW);
    assert.deepEqual(generationsOf(world), [OLD, NEW]);
  });

  it('a reboot before probation started does not count as one during probation', async () => {
    const world = probationWorld();
    world.serve(1, NEW);
    await assert.rejects(world.agent('realising').cycle(0), Crash);
    world.nix.reboot();
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'confirmed');
  });

  it('test and boot manifests do not go through probation', async () => {
    const world = probationWorld();
    world.serve(1, NEW, 'test');
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.probation, undefined);
    assert.ok(!world.reports.some((r) => r.phase === 'probation'));
  });

  it('reads a journal written before probation existed', () => {
    const old = {
      lastAccepted: { version: 1, digest: 'd' },
      deployment: {
        version: 1, storePath: NEW, activation: 'switch', phase: 'activating', previous: { generation: 1, path: OLD, currentSystem: OLD },
        generation: 2, reason: null, resumes: 0, startedAt: 't', updatedAt: 't',
      },
      lastHealth: null,
      failedVersions: [],
    };
    assert.equal(JournalSchema.parse(old).deployment?.probation, undefined);
  });
});
