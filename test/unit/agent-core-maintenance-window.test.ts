// The maintenance window by tables: a cron tick plus a duration, in the host's local time (dates here are built
// with local-time constructors, so the tables hold in any time zone).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextOpening, nextTick, windowAt, type WindowSpec } from '../../agent/core/maintenance-window.js';
import { cronFields } from '../../agent/reboot-config.js';

const HOUR = 3_600_000;
const spec = (schedule: string, durationMs: number): WindowSpec => {
  const fields = cronFields(schedule);
  assert.ok(fields, schedule);
  return { fields, durationMs };
};
const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s);

describe('maintenance window: the next tick of a cron expression', () => {
  const table: Array<[string, Date, Date | null]> = [
    ['0 3 * * *', local(2026, 3, 10, 1, 0), local(2026, 3, 10, 3, 0)],
    ['0 3 * * *', local(2026, 3, 10, 3, 0), local(2026, 3, 10, 3, 0)],
    ['0 3 * * *', local(2026, 3, 10, 3, 0, 1), local(2026, 3, 11, 3, 0)],
    ['30 2 * * 0', local(2026, 3, 10, 12, 0), local(2026, 3, 15, 2, 30)], // 15 March 2026 is a Sunday
    ['0 0 1 1 *', local(2026, 3, 10), local(2027, 1, 1)],
    ['0 0 29 2 *', local(2026, 3, 10), local(2028, 2, 29)],
    ['15 10 4 * * *', local(2026, 3, 10, 4, 10, 16), local(2026, 3, 11, 4, 10, 15)],
    ['*/20 * * * * *', local(2026, 3, 10, 4, 10, 21), local(2026, 3, 10, 4, 10, 40)],
    ['0 3 31 12 *', local(2026, 12, 31, 3, 0, 0), local(2026, 12, 31, 3, 0)],
  ];
  for (const [schedule, from, expected] of table) {
    it(`"${schedule}" from ${from.toString().slice(0, 24)}`, () => {
      const fields = cronFields(schedule);
      assert.ok(fields);
      assert.equal(nextTick(fields, from)?.getTime() ?? null, expected?.getTime() ?? null);
    });
  }
});

describe('maintenance window: a day that never comes', () => {
  it('has no next tick (node-cron already refuses such expressions; the search still ends)', () => {
    const fields = { second: [0], minute: [0], hour: [0], dayOfMonth: [31], month: [2], dayOfWeek: [0, 1, 2, 3, 4, 5, 6] };
    assert.equal(nextTick(fields, local(2026, 1, 1)), null);
  });
});

describe('maintenance window: open or not, and when it opens', () => {
  const nightly = spec('0 3 * * *', 2 * HOUR);
  const table: Array<[string, WindowSpec, Date, { start: Date; end: Date } | null, Date | null]> = [
    ['before it opens', nightly, local(2026, 3, 10, 2, 59, 59), null, local(2026, 3, 10, 3, 0)],
    ['at the tick', nightly, local(2026, 3, 10, 3, 0), { start: local(2026, 3, 10, 3, 0), end: local(2026, 3, 10, 5, 0) }, null],
    ['inside', nightly, local(2026, 3, 10, 4, 30), { start: local(2026, 3, 10, 3, 0), end: local(2026, 3, 10, 5, 0) }, null],
    ['the last second', nightly, local(2026, 3, 10, 4, 59, 59), { start: local(2026, 3, 10, 3, 0), end: local(2026, 3, 10, 5, 0) }, null],
    ['at its end (closed)', nightly, local(2026, 3, 10, 5, 0), null, local(2026, 3, 11, 3, 0)],
    ['a window past midnight', spec('0 23 * * *', 3 * HOUR), local(2026, 3, 11, 1, 0), { start: local(2026, 3, 10, 23, 0), end: local(2026, 3, 11, 2, 0) }, null],
    ['weekends only, on a Tuesday', spec('0 2 * * 6,0', 4 * HOUR), local(2026, 3, 10, 3, 0), null, local(2026, 3, 14, 2, 0)],
  ];
  for (const [name, window, now, open, opens] of table) {
    it(name, () => {
      const found = windowAt(window, now);
      assert.deepEqual(found === null ? null : { start: found.start.getTime(), end: found.end.getTime() }, open === null ? null : { start: open.start.getTime(), end: open.end.getTime() });
      if (opens !== null) assert.equal(nextOpening(window, now)?.getTime(), opens.getTime());
    });
  }
});

describe('maintenance window expressions', () => {
  it('takes 5- and 6-field expressions and refuses L and # (the window does not follow them)', () => {
    assert.ok(cronFields('0 3 * * *'));
    assert.ok(cronFields('*/10 0 3 * * mon-fri'));
    assert.equal(cronFields('0 0 L * *'), null);
    assert.equal(cronFields('0 0 31 2 *'), null);
    assert.equal(cronFields('not cron'), null);
  });
});
