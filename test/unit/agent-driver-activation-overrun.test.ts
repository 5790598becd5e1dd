// An activation that runs past its time limit and is waited for (`onActivationOverrun: "wait"`) reaches the
// controller: a report at once, and every report while it still runs, carry how long of what limit; once it
// ended, reports no longer do. The in-memory Nix stands in for the transient unit's overrun notice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Activation } from '../../shared/manifest.js';
import type { ActivationOverrun } from '../../shared/report.js';
import { createWorld, NEW, type World } from './agent-fakes.js';

/** The in-memory Nix's switch "runs" 700 s of a 600 s limit: it says so once, mid-activation. */
function overrunningWorld(): World & { readonly beats: Array<unknown> } {
  const world = createWorld();
  const beats: unknown[] = [];
  const activate = world.nix.activate;
  world.nix.activate = async (systemPath: string, action: Activation, onOverrun?: (overrun: ActivationOverrun) => void) => {
    if (action === 'switch') {
      onOverrun?.({ seconds: 700, limitSeconds: 600 });
      // A daemon heartbeat while the switch still runs.
      await new Promise((resolve) => setImmediate(resolve));
      beats.push(world.reports.at(-1)?.activationOverrun);
    }
    return activate(systemPath, action);
  };
  return Object.assign(world, { beats });
}

describe('driver: an activation past its time limit is carried to the controller', () => {
  it('reports it at once during the activation, and the phase reports after it ended no longer carry it', async () => {
    const world = overrunningWorld();
    world.serve(1, NEW);
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    const told = world.reports.filter((r) => r.activationOverrun !== undefined);
    assert.equal(told.length, 1, 'one report when it happened');
    assert.equal(told[0]?.kind, 'heartbeat');
    assert.equal(told[0]?.phase, 'activating');
    assert.deepEqual(told[0]?.activationOverrun, { seconds: 700, limitSeconds: 600 });
    assert.deepEqual(world.beats, [{ seconds: 700, limitSeconds: 600 }]);
    const after = world.reports.slice(world.reports.indexOf(told[0]!) + 1);
    assert.ok(after.some((r) => r.phase === 'checking-health'));
    assert.ok(after.every((r) => r.activationOverrun === undefined));
  });

  it('a heartbeat of the daemon while the activation still runs carries it too', async () => {
    const world = createWorld();
    const agent = world.agent();
    const activate = world.nix.activate;
    world.nix.activate = async (systemPath: string, action: Activation, onOverrun?: (overrun: ActivationOverrun) => void) => {
      if (action === 'switch') {
        onOverrun?.({ seconds: 1300, limitSeconds: 600 });
        await agent.heartbeat();
      }
      return activate(systemPath, action);
    };
    world.serve(1, NEW);
    await agent.cycle(0);
    const beat = world.reports.findLast((r) => r.kind === 'heartbeat' && r.facts === null && r.activationOverrun !== undefined);
    assert.deepEqual(beat?.activationOverrun, { seconds: 1300, limitSeconds: 600 });
    await agent.heartbeat();
    assert.equal(world.reports.at(-1)?.activationOverrun, undefined, 'after the activation ended');
  });
});
