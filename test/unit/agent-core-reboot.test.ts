// The reboot check: a new kernel, initrd or module set than the booted system's means a reboot is needed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rebootNeeded, type BootFiles } from '../../agent/core/reboot.js';

const BOOTED: BootFiles = { kernel: '/nix/store/a-linux/bzImage', initrd: '/nix/store/a-initrd/initrd', kernelModules: '/nix/store/a-modules/lib/modules' };

describe('reboot needed', () => {
  it('compares kernel, initrd and kernel modules with the booted system', () => {
    const table: Array<[string, BootFiles | null, BootFiles | null, readonly string[]]> = [
      ['same boot files', BOOTED, { ...BOOTED }, []],
      ['new kernel', BOOTED, { ...BOOTED, kernel: '/nix/store/b-linux/bzImage' }, ['kernel']],
      ['new initrd', BOOTED, { ...BOOTED, initrd: '/nix/store/b-initrd/initrd' }, ['initrd']],
      ['new modules', BOOTED, { ...BOOTED, kernelModules: '/nix/store/b-modules/lib/modules' }, ['kernel-modules']],
      ['all new', BOOTED, { kernel: 'k', initrd: 'i', kernelModules: 'm' }, ['kernel', 'initrd', 'kernel-modules']],
      ['unknown booted system', null, BOOTED, []],
      ['unknown boot default', BOOTED, null, []],
    ];
    for (const [name, booted, next, changed] of table) {
      const verdict = rebootNeeded(booted, next);
      assert.deepEqual(verdict.changed, changed, name);
      assert.equal(verdict.needed, changed.length > 0, name);
    }
  });
});
