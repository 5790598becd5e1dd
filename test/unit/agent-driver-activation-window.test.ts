// The activation window against the in-memory Nix: a realised switch or test waits in `awaiting-window` without
// running, activates once the window is open, and a crash or restart while it waits resumes waiting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Crash, createWorld, NEW, OLD, SICK, type World } from './agent-fakes.js';

const HOUR = 3_600_000;

/** A world whose activation window opens an hour from "now" and stays open 30 minutes. */
function windowWorld(options: { probation?: boolean } = {}): World & { readonly opensAt: Date } {
  const world = createWorld();
  const opensAt = new Date(world.now + HOUR);
  opensAt.setSeconds(0, 0);
  Object.assign(world.config, {
    probation: options.probation ?? false,
    activationWindow: { schedule: `${opensAt.getMinutes()} ${opensAt.getHours()} * * *`, duration: '30m' },
  });
  return Object.assign(world, { opensAt });
}

const ran = (world: World) => world.nix.calls.filter((call) => call.startsWith('activate') || call.startsWith('set-profile'));

/** Phase reports in order, a repeated phase once. */
const phases = (world: World) =>
  world.reports
    .filter((r) => r.kind === 'phase')
    .map((r) => r.phase)
    .filter((phase, i, all) => i === 0 || all[i - 1] !== phase);

describe('driver: activationWindow holds switch and test activations (in-memory Nix)', () => {
  it('outside the window a switch is realised and waits in awaiting-window without running; inside it, it activates and confirms', async () => {
    const world = windowWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'awaiting-window');
    assert.deepEqual(world.nix.calls, [`dry-run ${NEW}`, `realise ${NEW}`]);
    assert.equal(world.nix.currentSystem_, OLD);
    const waiting = world.reports.findLast((r) => r.phase === 'awaiting-window');
    assert.equal(waiting?.outcome, 'in-progress');
    assert.deepEqual(waiting?.activationWindow, { opensAt: world.opensAt.toISOString() });

    world.now += HOUR / 2;
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'awaiting-window', 'half an hour later the window is still closed');
    assert.deepEqual(ran(world), []);

    world.now = world.opensAt.getTime();
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed', world.journal.deployment?.reason ?? '');
    assert.deepEqual(ran(world), [`set-profile ${NEW}`, `activate ${NEW} switch`]);
    assert.equal(world.nix.currentSystem_, NEW);
    assert.deepEqual(phases(world), ['accepted', 'realising', 'awaiting-window', 'realised', 'profile-set', 'activating', 'checking-health', 'confirmed']);
    assert.equal(world.reports.findLast((r) => r.kind === 'phase')?.activationWindow, undefined);
  });

  it('a heartbeat while waiting says when the window opens', async () => {
    const world = windowWorld();
    world.serve(1, NEW);
    const agent = world.agent();
    await agent.cycle(0);
    await agent.heartbeat();
    const beat = world.reports.findLast((r) => r.kind === 'heartbeat');
    assert.equal(beat?.phase, 'awaiting-window');
    assert.deepEqual(beat?.activationWindow, { opensAt: world.opensAt.toISOString() });
  });

  it('with probation the test run waits for the window too, and the switch is staged after it', async () => {
    const world = windowWorld({ probation: true });
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'awaiting-window');
    assert.deepEqual(ran(world), []);
    world.now = world.opensAt.getTime() + 60_000;
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.deepEqual(ran(world), [`activate ${NEW} test`, `set-profile ${NEW}`, `activate ${NEW} boot`]);
  });

  it('a test manifest waits for the window; boot and dry-activate manifests are not held', async () => {
    const tested = windowWorld();
    tested.serve(1, NEW, 'test');
    await tested.agent().cycle(0);
    assert.equal(tested.journal.deployment?.phase, 'awaiting-window');

    for (const activation of ['boot', 'dry-activate'] as const) {
      const world = windowWorld();
      world.serve(1, NEW, activation);
      await world.agent().cycle(0);
      assert.equal(world.journal.deployment?.phase, 'confirmed', activation);
      assert.ok(world.nix.calls.includes(`activate ${NEW} ${activation}`), activation);
    }
  });

  it('a crash right after awaiting-window is journaled resumes waiting, then activates once the window opens', async () => {
    const world = windowWorld();
    world.serve(1, NEW);
    await assert.rejects(world.agent('awaiting-window').cycle(0), Crash);
    assert.equal(world.journal.deployment?.phase, 'awaiting-window');
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'awaiting-window');
    assert.equal(world.journal.deployment?.resumes, 0);
    assert.deepEqual(ran(world), []);

    world.now = world.opensAt.getTime();
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.deepEqual(ran(world), [`set-profile ${NEW}`, `activate ${NEW} switch`]);
  });

  it('a host rebooted while waiting still waits, and nothing ran before the window', async () => {
    const world = windowWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    world.nix.reboot();
    await world.agent().resume();
    assert.equal(world.journal.deployment?.phase, 'awaiting-window');
    assert.deepEqual(ran(world), []);
    assert.equal(world.nix.booted, OLD);
  });

  it('a newer manifest arriving while one waits replaces it; the replaced one never runs', async () => {
    const world = windowWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    world.serve(2, SICK);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.version, 2);
    assert.equal(world.journal.deployment?.storePath, SICK);
    assert.equal(world.journal.deployment?.phase, 'awaiting-window');
    world.serve(3, OLD);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.version, 3);
    assert.equal(world.journal.deployment?.phase, 'confirmed', 'the running system needs no activation');
    world.now = world.opensAt.getTime();
    await world.agent().cycle(0);
    assert.deepEqual(ran(world), [], 'neither replaced version ran when the window opened');
  });

  it('without activationWindow a switch activates at once (today\'s behaviour)', async () => {
    const world = createWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.ok(!world.reports.some((r) => r.phase === 'awaiting-window'));
  });
});
