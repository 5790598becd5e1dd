// The config's activationWindow: absent by default (activations at once), the window made from it, and what is
// refused (one problem naming the field each).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAgentConfig } from '../../agent/config.js';
import { activationWindowOf, InvalidMaintenanceWindowError } from '../../agent/reboot-config.js';
import { base, problems } from './agent-config-fixtures.js';



describe('agent config: activationWindow', () => {
  it('is absent by default: activations run at once', () => {
    const config = parseAgentConfig(base);
    assert.equal(config.activationWindow, undefined);
    assert.equal(activationWindowOf(config), null);
  });

  it('takes a cron expression and a duration, apart from the maintenance window', () => {
    const config = parseAgentConfig({ ...base, activationWindow: { schedule: '0 9 * * 1-5', duration: '8h' }, maintenanceWindow: { schedule: '0 3 * * *', duration: '1h' } });
    const window = activationWindowOf(config);
    assert.equal(window?.durationMs, 8 * 3_600_000);
    assert.deepEqual(window?.fields.hour, [9]);
    assert.deepEqual(window?.fields.dayOfWeek, [1, 2, 3, 4, 5]);
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ['a schedule that is not cron', { schedule: 'at night', duration: '2h' }, /^activationWindow\.schedule: not a cron expression the window can follow: "at night"/],
    ['a schedule that never opens', { schedule: '0 0 30 2 *', duration: '2h' }, /^activationWindow\.schedule: /],
    ['a duration without unit', { schedule: '0 3 * * *', duration: '120' }, /^activationWindow\.duration: not a duration/],
    ['a window longer than a week', { schedule: '0 3 * * *', duration: '8d' }, /^activationWindow\.duration: .*at most 7d/],
    ['a field it does not know', { schedule: '0 3 * * *', duration: '1h', delay: '5m' }, /^activationWindow: /],
  ];
  for (const [name, activationWindow, problem] of refused) {
    it(`refuses ${name} in one problem naming the field`, () => {
      const found = problems({ ...base, activationWindow });
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0] ?? '', problem);
    });
  }

  it('an expression that skipped validation is never taken for "any time"', () => {
    assert.throws(() => activationWindowOf({ activationWindow: { schedule: 'nonsense', duration: '1h' } }), (error: unknown) => error instanceof InvalidMaintenanceWindowError && /^activationWindow\.schedule/.test(error.message));
  });
});
