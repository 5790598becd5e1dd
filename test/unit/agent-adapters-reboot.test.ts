// The reboot path's host side by tables: argv arrays, and `systemd-inhibit --list` as systemd 252 prints it
// (WHO and WHY hold spaces: the header's offsets split a row).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InhibitorListError, listInhibitorsArgs, parseInhibitorList, rebootArgs } from '../../agent/adapters/reboot.js';

/** Recorded on a systemd lab host (systemd 252) with two locks held by `systemd-inhibit … sleep 300`. */
const TWO_LOCKS = `WHO                     UID USER PID COMM            WHAT           WHY                           MODE
lab test lock           0   root 42  systemd-inhibit shutdown       holding the reboot for a test block
switch-to-configuration 0   root 45  systemd-inhibit shutdown:sleep NixOS switch                  delay

2 inhibitors listed.
`;

describe('reboot adapter', () => {
  it('builds argv arrays, never a shell line', () => {
    assert.deepEqual(listInhibitorsArgs(), ['systemd-inhibit', '--list', '--no-pager']);
    assert.deepEqual(rebootArgs(), ['systemctl', 'reboot']);
  });

  it('reads each lock of systemd-inhibit --list, spaces in WHO and WHY included', () => {
    assert.deepEqual(parseInhibitorList(TWO_LOCKS), [
      { who: 'lab test lock', what: 'shutdown', why: 'holding the reboot for a test', mode: 'block' },
      { who: 'switch-to-configuration', what: 'shutdown:sleep', why: 'NixOS switch', mode: 'delay' },
    ]);
  });

  it('reads "No inhibitors." as none', () => {
    assert.deepEqual(parseInhibitorList('No inhibitors.\n'), []);
  });

  it('refuses output it does not know rather than guess that nothing holds the reboot', () => {
    assert.throws(() => parseInhibitorList('Failed to connect to bus: No such file or directory\n'), InhibitorListError);
  });
});
