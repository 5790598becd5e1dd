// The reboot path against the in-memory Nix and a fake reboot port (no real kernel switch, no real reboot: the
// fake host boots its boot entry when told): the window, the inhibitor locks, the booted generation's health
// window, the one reboot back, crashes at each journal write, and realise progress in reports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RebootPort, RealiseProgressPort } from '../../agent/ports.js';
import type { Inhibitor, RealiseProgress } from '../../shared/report.js';
import { Crash, createWorld, NEW, OLD, SICK, type World } from './agent-fakes.js';

const LOCK: Inhibitor = { who: 'backup', what: 'shutdown', why: 'nightly backup', mode: 'block' };

interface RebootWorld extends World {
  readonly port: RebootPort & { reboots: number; inhibitorsHeld: Inhibitor[] };
}

/** A world whose systems NEW and SICK carry another kernel than OLD, with a window opening an hour from "now". */
function rebootWorld(options: { window?: boolean; probation?: boolean } = {}): RebootWorld {
  const world = createWorld();
  const opens = new Date(world.now + 3_600_000);
  Object.assign(world.config, {
    probation: options.probation ?? true,
    reboot: 'when-needed',
    rebootDelay: '0s',
    ...(options.window === false ? {} : { maintenanceWindow: { schedule: `${opens.getMinutes()} ${opens.getHours()} * * *`, duration: '30m' } }),
  });
  const kernelOf = (system: string | null) => (system === OLD ? 'linux-6.1' : system === null ? null : 'linux-6.6');
  const port: RebootWorld['port'] = {
    reboots: 0,
    inhibitorsHeld: [],
    needed: async (storePath) => {
      const changed = kernelOf(storePath) !== kernelOf(world.nix.booted);
      return { needed: changed, changed: changed ? ['kernel'] : [] };
    },
    inhibitors: async () => [...port.inhibitorsHeld],
    reboot: async () => {
      port.reboots += 1;
    },
    random: () => 0,
  };
  world.extra = { reboot: port };
  return Object.assign(world, { port });
}

/** The host goes down after `systemctl reboot` and boots its boot entry; the agent starts again and resumes. */
async function bootAndResume(world: RebootWorld): Promise<void> {
  world.nix.reboot();
  await world.agent().resume();
}

/** Phase reports in order, a repeated phase once (a wait whose reason changed is reported again). */
const phases = (world: World) =>
  world.reports
    .filter((r) => r.kind === 'phase')
    .map((r) => r.phase)
    .filter((phase, i, all) => i === 0 || all[i - 1] !== phase);

describe('driver: a kernel change with reboot "when-needed" (fake reboot port, no real reboot)', () => {
  it('stages the boot entry without running the generation, waits for the window, reboots once and confirms on the booted generation', async () => {
    const world = rebootWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'awaiting-reboot');
    assert.match(world.journal.deployment?.reboot?.waiting ?? '', /outside the maintenance window/);
    assert.deepEqual(world.nix.calls, [`dry-run ${NEW}`, `realise ${NEW}`, `set-profile ${NEW}`, `activate ${NEW} boot`]);
    assert.equal(world.nix.currentSystem_, OLD, 'the new generation never ran before the reboot');
    assert.equal(world.nix.bootEntry, NEW);
    assert.equal(world.port.reboots, 0);

    world.now += 3_600_000;
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rebooting');
    assert.equal(world.port.reboots, 1);

    await bootAndResume(world);
    assert.equal(world.journal.deployment?.phase, 'confirmed', world.journal.deployment?.reason ?? '');
    assert.equal(world.journal.deployment?.reboot?.stage, 'booted');
    assert.equal(world.journal.deployment?.reboot?.reboots, 1);
    assert.equal(world.port.reboots, 1);
    assert.deepEqual(phases(world), ['accepted', 'realising', 'checking-health', 'staging-boot', 'awaiting-reboot', 'rebooting', 'checking-health', 'confirmed']);
    const waiting = world.reports.findLast((r) => r.phase === 'awaiting-reboot');
    assert.match(waiting?.reboot?.waiting ?? '', /outside the maintenance window/);
    assert.deepEqual(waiting?.reboot?.changed, ['kernel']);
  });

  it('an unhealthy booted generation: the previous one becomes the boot default, one more reboot, rolled back and reported', async () => {
    const world = rebootWorld({ window: false });
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rebooting');
    await bootAndResume(world);
    assert.equal(world.journal.deployment?.phase, 'rebooting', world.journal.deployment?.reason ?? '');
    assert.equal(world.journal.deployment?.reboot?.stage, 'reverted');
    assert.equal(world.nix.bootEntry, OLD);
    assert.equal(world.port.reboots, 2);
    await bootAndResume(world);
    const deployment = world.journal.deployment;
    assert.equal(deployment?.phase, 'rolled-back');
    assert.match(deployment?.reason ?? '', /unhealthy after the reboot into this generation: health check failed/);
    assert.equal(world.nix.booted, OLD);
    assert.equal(world.port.reboots, 2);
    assert.deepEqual(world.journal.failedVersions, [1]);
    const rolledBack = world.reports.find((r) => r.phase === 'rolled-back');
    assert.match(rolledBack?.error ?? '', /unhealthy after the reboot/);
    assert.equal(rolledBack?.reboot?.reboots, 2);
  });

  it('a previous generation unhealthy too after the reboot back fails and never reboots a third time', async () => {
    const world = rebootWorld({ window: false });
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent().cycle(0);
    await bootAndResume(world);
    world.nix.unhealthy.add(OLD);
    await bootAndResume(world);
    assert.equal(world.journal.deployment?.phase, 'failed');
    assert.match(world.journal.deployment?.reason ?? '', /not rebooting again/);
    await world.agent().cycle(0);
    assert.equal(world.port.reboots, 2);
  });

  it('an unhealthy running system stages nothing', async () => {
    const world = rebootWorld({ window: false });
    world.nix.unhealthy.add(OLD);
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'failed');
    assert.match(world.journal.deployment?.reason ?? '', /running system is unhealthy/);
    assert.equal(world.nix.bootEntry, OLD);
    assert.ok(!world.nix.calls.some((call) => call.startsWith('set-profile')));
  });

  it('an inhibitor lock holds the reboot and is reported; once it is gone the host reboots', async () => {
    const world = rebootWorld({ window: false });
    world.port.inhibitorsHeld.push(LOCK);
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'awaiting-reboot');
    assert.deepEqual(world.journal.deployment?.reboot?.inhibitors, [LOCK]);
    const held = world.reports.findLast((r) => r.reboot?.inhibitors.length === 1);
    assert.match(held?.reboot?.waiting ?? '', /held back by inhibitor lock "backup"/);
    await world.agent().cycle(0);
    assert.equal(world.port.reboots, 0);
    world.port.inhibitorsHeld.length = 0;
    await world.agent().cycle(0);
    assert.equal(world.port.reboots, 1);
    await bootAndResume(world);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
  });

  it('publishing the running system while a reboot waits puts the boot entry back, and no reboot follows', async () => {
    const world = rebootWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.nix.bootEntry, NEW);
    world.serve(2, OLD);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.version, 2);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.equal(world.nix.bootEntry, OLD);
    world.now += 3_600_000;
    await world.agent().cycle(0);
    assert.equal(world.port.reboots, 0);
  });

  it('a host rebooted by someone else while waiting, onto the new generation, is checked and confirmed', async () => {
    const world = rebootWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    await bootAndResume(world);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.equal(world.port.reboots, 0);
  });

  for (const phase of ['checking-health', 'staging-boot', 'awaiting-reboot', 'rebooting']) {
    it(`a crash right after "${phase}" is journaled on the reboot path converges to confirmed with one reboot`, async () => {
      const world = rebootWorld({ window: false });
      world.serve(1, NEW);
      await assert.rejects(world.agent(phase).cycle(0), Crash);
      await world.agent().resume();
      assert.equal(world.journal.deployment?.phase, 'rebooting');
      await bootAndResume(world);
      assert.equal(world.journal.deployment?.phase, 'confirmed');
      assert.equal(world.port.reboots, 1);
      assert.deepEqual([...world.nix.generations.values()], [OLD, NEW]);
    });
  }

  it('with reboot "never" a kernel change takes the ordinary probation path', async () => {
    const world = rebootWorld();
    Object.assign(world.config, { reboot: 'never' });
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.ok(world.nix.calls.includes(`activate ${NEW} test`));
    assert.equal(world.port.reboots, 0);
  });
});

describe('driver: realise progress (fake progress port)', () => {
  it('sends each figure as a heartbeat of the realising phase, and the phase reports in between carry the latest', async () => {
    const world = createWorld();
    const figures: RealiseProgress[] = [
      { pathsDone: 0, pathsTotal: 3, bytesDone: 0, bytesTotal: 300, finished: false },
      { pathsDone: 2, pathsTotal: 3, bytesDone: 200, bytesTotal: 300, finished: false },
      { pathsDone: 3, pathsTotal: 3, bytesDone: 300, bytesTotal: 300, finished: true },
    ];
    let latest: RealiseProgress | null = null;
    const progress: RealiseProgressPort = {
      current: () => latest,
      async start(_storePath, emit) {
        const send = (figure: RealiseProgress | undefined) => {
          if (figure === undefined) return;
          latest = figure;
          emit(figure);
        };
        send(figures[0]);
        return { onLine: () => send(figures[1]), finish: async () => send(figures[2]) };
      },
    };
    world.extra = { progress };
    const realise = world.nix.realise;
    world.nix.realise = async (storePath, gcRoot, onLine) => {
      onLine?.(`copying path '${storePath}' from 'http://cache'...`);
      await realise(storePath, gcRoot);
    };
    world.serve(1, NEW);
    await world.agent().cycle(0);
    await new Promise((resolve) => setImmediate(resolve));
    const sent = world.reports.filter((r) => r.progress !== undefined && r.kind === 'heartbeat');
    assert.deepEqual(sent.map((r) => r.progress), figures);
    assert.ok(sent.every((r) => r.phase === 'realising'));
    assert.equal(world.reports.find((r) => r.phase === 'realised')?.progress, undefined);
  });
});
