// The config's reboot settings: defaults, what is refused (one clear problem each), and the policy made from them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAgentConfig } from '../../agent/config.js';
import { rebootPolicyOf } from '../../agent/reboot-config.js';
import { base, problems } from './agent-config-fixtures.js';



describe('agent config: reboots', () => {
  it('never reboots by default', () => {
    const config = parseAgentConfig(base);
    assert.equal(config.reboot, 'never');
    assert.equal(config.maintenanceWindow, undefined);
    assert.equal(config.rebootDelay, '0s');
    assert.equal(rebootPolicyOf(config).mode, 'never');
  });

  it('takes a window and a delay, and makes the policy from them', () => {
    const config = parseAgentConfig({ ...base, reboot: 'when-needed', maintenanceWindow: { schedule: '0 3 * * *', duration: '2h' }, rebootDelay: '10m' });
    const policy = rebootPolicyOf(config);
    assert.equal(policy.mode, 'when-needed');
    assert.equal(policy.delayMs, 600_000);
    assert.equal(policy.window?.durationMs, 7_200_000);
    assert.deepEqual(policy.window?.fields.hour, [3]);
  });

  it('without a window any time will do', () => {
    assert.equal(rebootPolicyOf(parseAgentConfig({ ...base, reboot: 'when-needed' })).window, null);
  });

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown mode', { reboot: 'always' }, /reboot/],
    ['a schedule that is not cron', { maintenanceWindow: { schedule: 'at night', duration: '2h' } }, /maintenanceWindow\.schedule.*not a cron expression/],
    ['L in the schedule', { maintenanceWindow: { schedule: '0 3 L * *', duration: '2h' } }, /L and # are not supported/],
    ['a duration without unit', { maintenanceWindow: { schedule: '0 3 * * *', duration: '120' } }, /maintenanceWindow\.duration.*not a duration/],
    ['a zero window', { maintenanceWindow: { schedule: '0 3 * * *', duration: '0m' } }, /maintenanceWindow\.duration/],
    ['a window longer than a week', { maintenanceWindow: { schedule: '0 3 * * *', duration: '8d' } }, /at most 7d/],
    ['a window without duration', { maintenanceWindow: { schedule: '0 3 * * *' } }, /maintenanceWindow\.duration/],
    ['a bad delay', { rebootDelay: 'soon' }, /rebootDelay.*not a duration/],
  ];
  for (const [name, fields, problem] of refused) {
    it(`refuses ${name}`, () => {
      const found = problems({ ...base, ...fields });
      assert.ok(found.some((p) => problem.test(p)), found.join('\n'));
    });
  }
});
