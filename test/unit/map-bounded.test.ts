import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConcurrencyLimitError, mapBounded } from '../../shared/map-bounded.js';

/** A promise settled by hand, so the test decides the order calls finish in. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('mapBounded', () => {
  it('returns results in the order of the items, whatever order the calls finish in', async () => {
    const gates = [deferred<void>(), deferred<void>(), deferred<void>()];
    const running = mapBounded([10, 20, 30], 3, async (n, i) => {
      await gates[i]?.promise;
      return n + i;
    });
    gates[2]?.resolve();
    await tick();
    gates[0]?.resolve();
    await tick();
    gates[1]?.resolve();
    assert.deepEqual(await running, [10, 21, 32]);
  });

  it('never has more than the limit in flight, and starts the next as soon as one finishes', async () => {
    let inFlight = 0;
    let most = 0;
    const gates = Array.from({ length: 10 }, () => deferred<void>());
    const started: number[] = [];
    const running = mapBounded(gates, 3, async (gate, i) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      started.push(i);
      await gate.promise;
      inFlight -= 1;
      return i;
    });
    await tick();
    assert.deepEqual(started, [0, 1, 2]);
    gates[1]?.resolve();
    await tick();
    assert.deepEqual(started, [0, 1, 2, 3]);
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await running, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(most, 3);
  });

  it('rejects with the first error, starts nothing after it, and lets the calls in flight finish first', async () => {
    const gates = Array.from({ length: 6 }, () => deferred<void>());
    const started: number[] = [];
    const finished: number[] = [];
    let settled = false;
    const outcome = mapBounded(gates, 2, async (gate, i) => {
      started.push(i);
      await gate.promise;
      finished.push(i);
      return i;
    }).then(
      () => 'resolved',
      (error: unknown) => error,
    ).finally(() => {
      settled = true;
    });
    await tick();
    gates[1]?.reject(new Error('first'));
    await tick();
    assert.equal(settled, false, 'waits for the call still in flight');
    gates[0]?.reject(new Error('second'));
    await tick();
    const error = await outcome;
    assert.ok(error instanceof Error);
    assert.equal(error.message, 'first');
    assert.deepEqual(started, [0, 1], 'nothing started after the failure');
  });

  it('answers an empty list with an empty list and refuses a limit that is not a positive whole number', async () => {
    assert.deepEqual(await mapBounded([], 4, async () => 1), []);
    await assert.rejects(mapBounded([1], 0, async (n) => n), ConcurrencyLimitError);
    await assert.rejects(mapBounded([1], 1.5, async (n) => n), ConcurrencyLimitError);
  });
});
