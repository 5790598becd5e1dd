// Confirmed and failed generations: recorded when a deployment ends, where an operator's rollback goes, what is
// deleted; then the driver end to end (without probation, where a failed version does become a generation).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deleteGenerationsArgs } from '../../agent/adapters/nix.js';
import { forgetDeleted, generationsToDelete, recordGenerations } from '../../agent/core/generations.js';
import { EMPTY_JOURNAL, type Deployment, type GenerationRecord, type Journal } from '../../agent/core/journal.js';
import { operatorRollbackTarget, type GenerationLink } from '../../agent/core/rollback-plan.js';
import { BAD, createWorld, NEW, OLD, SICK } from './agent-fakes.js';

const P = (n: number) => `/nix/store/${String(n).repeat(32).slice(0, 32)}-nixos-system-${n}`;
const link = (n: number): GenerationLink => ({ generation: n, path: P(n) });
const links = (...numbers: number[]) => numbers.map(link);
const judged = (confirmed: number[], failed: number[]): Pick<Journal, 'confirmedGenerations' | 'failedGenerations'> => ({
  confirmedGenerations: confirmed.map(link),
  failedGenerations: failed.map(link),
});

function deployment(phase: Deployment['phase'], generation: number | null, extra: Partial<Deployment> = {}): Deployment {
  return {
    version: 7, storePath: P(generation ?? 9), activation: 'switch', phase, previous: null, generation, reason: null, resumes: 0,
    startedAt: '2026-11-22T12:00:00.000Z', updatedAt: '2026-11-22T12:00:00.000Z', ...extra,
  };
}
const journalWith = (d: Deployment | null, records: Partial<Journal> = {}): Journal => ({ ...EMPTY_JOURNAL, deployment: d, ...records });

describe('generations: what a deployment that ends records', () => {
  const cases: Array<[string, Deployment, Deployment, Partial<Record<'confirmed' | 'failed', GenerationRecord[]>>]> = [
    ['a confirmed one is a confirmed generation', deployment('checking-health', 3), deployment('confirmed', 3), { confirmed: [link(3)] }],
    ['a rolled-back one is a failed generation', deployment('rolling-back', 3), deployment('rolled-back', 3), { failed: [link(3)] }],
    ['a failed one is a failed generation', deployment('rolling-back', 3), deployment('failed', 3), { failed: [link(3)] }],
    ['one that made no generation (probation, test) records nothing', deployment('checking-health', null), deployment('rolled-back', null), {}],
    ["an operator's rollback records nothing", deployment('rolling-back', 3, { trigger: 'operator' }), deployment('rolled-back', 3, { trigger: 'operator' }), {}],
    ['a deployment still under way records nothing', deployment('profile-set', 3), deployment('activating', 3), {}],
  ];
  for (const [name, before, after, expected] of cases) {
    it(name, () => {
      const next = recordGenerations(journalWith(before), journalWith(after));
      assert.deepEqual(next.confirmedGenerations ?? [], expected.confirmed ?? []);
      assert.deepEqual(next.failedGenerations ?? [], expected.failed ?? []);
    });
  }
  it('recording twice changes nothing', () => {
    const once = recordGenerations(journalWith(deployment('checking-health', 3)), journalWith(deployment('confirmed', 3)));
    assert.deepEqual(recordGenerations(once, once), once);
  });
});

describe("generations: an operator's rollback target", () => {
  const cases: Array<[string, GenerationLink[], number, ReturnType<typeof judged>, number | null]> = [
    ['the newest older confirmed generation, skipping a failed one in between', links(1, 2, 3, 4), 4, judged([2, 4], [3]), 2],
    ['a confirmed one before an unjudged one (set by hand)', links(1, 2, 3, 4), 4, judged([2, 4], []), 2],
    ['with no confirmed one older, the newest older that did not fail', links(1, 2, 3), 3, judged([3], [2]), 1],
    ['never a failed one, even when it is all there is', links(1, 2), 2, judged([2], [1]), null],
    ['without records (an older journal): the newest older generation', links(1, 2, 3), 3, {}, 2],
    ['a record whose generation now points elsewhere counts for nothing', [link(1), { generation: 2, path: P(5) }, link(3)], 3, judged([3], [2]), 2],
  ];
  for (const [name, existing, current, records, expected] of cases) {
    it(name, () => assert.equal(operatorRollbackTarget(existing, current, records)?.generation ?? null, expected));
  }
});

describe('generations: what is deleted', () => {
  const cases: Array<[string, GenerationLink[], number, ReturnType<typeof judged>, number, number[]]> = [
    ['failed generations go', links(1, 2, 3, 4), 4, judged([2, 4], [3]), 5, [3]],
    ['confirmed ones beyond the newest `keep` go', links(1, 2, 3, 4, 5), 5, judged([2, 3, 4, 5], []), 2, [2, 3]],
    ['never the current one, even if it is counted out or failed', links(1, 2, 3), 1, judged([2, 3], [1]), 1, [2]],
    ['never one the agent did not make', links(1, 2, 3), 3, judged([3], []), 1, []],
    ['never a generation whose link now points elsewhere', [link(1), { generation: 2, path: P(5) }, link(3)], 3, judged([3], [2]), 5, []],
  ];
  for (const [name, existing, current, records, keep, expected] of cases) {
    it(name, () => assert.deepEqual(generationsToDelete(existing, current, records, keep), expected));
  }
  it('deletes with nix-env --delete-generations (argv pinned)', () => {
    assert.deepEqual(deleteGenerationsArgs('/nix/var/nix/profiles/system', [3, 7]), ['nix-env', '--profile', '/nix/var/nix/profiles/system', '--delete-generations', '3', '7']);
  });
  it('forgets the records of deleted generations', () => {
    const journal = journalWith(null, judged([2, 4], [3]));
    assert.deepEqual(forgetDeleted(journal, links(1, 2, 4)), journalWith(null, judged([2, 4], [])));
    assert.equal(forgetDeleted(journal, links(1, 2, 3, 4)), journal, 'unchanged when everything is still there');
  });
});

describe('driver: generations without probation', () => {
  it('a failed generation is deleted and two operator rollbacks in a row never land on it', async () => {
    const world = createWorld(); // generation 1: OLD, from before the agent
    world.nix.unhealthy.add(SICK);
    world.serve(1, NEW);
    await world.agent().cycle(0); // generation 2, confirmed
    world.serve(2, SICK);
    await world.agent().cycle(0); // generation 3, unhealthy: rolled back to 2, then deleted
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.ok(world.nix.calls.includes(`drop-root ${SICK}`), 'its GC root is dropped');
    assert.deepEqual([...world.nix.generations.keys()], [1, 2]);
    world.serve(3, BAD);
    world.nix.failsToActivate.add(BAD);
    await world.agent().cycle(0); // generation 3 again (nix-env numbers from the highest left), activation fails: deleted too
    world.serve(4, SICK.replace('sick', 'well'));
    await world.agent().cycle(0); // generation 3, confirmed
    assert.deepEqual([...world.nix.generations.keys()], [1, 2, 3]);
    assert.deepEqual(world.journal.confirmedGenerations?.map((r) => r.generation), [2, 3]);
    assert.deepEqual(world.journal.failedGenerations, []);

    const first = await world.agent().rollbackManually();
    assert.equal(first.ok, true, first.detail);
    assert.deepEqual([world.nix.current, world.nix.currentSystem_], [2, NEW], 'the last confirmed generation');
    const second = await world.agent().rollbackManually();
    assert.equal(second.ok, true, second.detail);
    assert.deepEqual([world.nix.current, world.nix.currentSystem_], [1, OLD], 'then the one from before the agent, never a failed one');
  });

  it('an operator rollback skips a failed generation still in the profile (a deletion that did not happen)', async () => {
    const world = createWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, NEW);
    await world.agent().cycle(0); // 2 confirmed
    const deleteGenerations = world.nix.deleteGenerations;
    world.nix.deleteGenerations = async () => {
      throw new Error('nix-env: disk full');
    };
    world.serve(2, SICK);
    await world.agent().cycle(0); // 3 failed, and still there
    world.nix.deleteGenerations = deleteGenerations;
    world.nix.current = 3; // someone switched to it by hand
    world.nix.currentSystem_ = SICK;
    const result = await world.agent().rollbackManually();
    assert.equal(result.ok, true, result.detail);
    assert.equal(world.nix.current, 2);
  });

  it('keeps only the newest `keepGenerations` confirmed generations it made', async () => {
    const world = createWorld();
    Object.assign(world.config, { keepGenerations: 2 });
    const systems = [1, 2, 3, 4].map((n) => NEW.replace('new', `new${n}`));
    for (const [i, path] of systems.entries()) {
      world.serve(i + 1, path);
      await world.agent().cycle(0);
    }
    assert.deepEqual([...world.nix.generations.entries()], [[1, OLD], [4, systems[2]], [5, systems[3]]]);
    assert.deepEqual(world.journal.confirmedGenerations?.map((r) => r.generation), [4, 5]);
  });
});
