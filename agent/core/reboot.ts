// Whether a generation needs a reboot to run fully: its kernel, initrd or kernel modules differ from the
// booted system's (what NixOS's own reboot check compares). Pure.

/** The boot-relevant links of a system (resolved store paths), null where the system has none. */
export interface BootFiles {
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly kernelModules: string | null;
}

export type BootFile = 'kernel' | 'initrd' | 'kernel-modules';

export interface RebootVerdict {
  /** True when the boot-default generation's boot files differ from the booted system's. */
  readonly needed: boolean;
  /** Which of them differ. */
  readonly changed: readonly BootFile[];
}

/** Compares `next` (the boot default) with what is booted; an unknown booted system needs no reboot it can show. */
export function rebootNeeded(booted: BootFiles | null, next: BootFiles | null): RebootVerdict {
  if (booted === null || next === null) return { needed: false, changed: [] };
  const changed: BootFile[] = [];
  if (booted.kernel !== next.kernel) changed.push('kernel');
  if (booted.initrd !== next.initrd) changed.push('initrd');
  if (booted.kernelModules !== next.kernelModules) changed.push('kernel-modules');
  return { needed: changed.length > 0, changed };
}

/**
 * `systemctl is-system-running` says the host is shutting down: whatever an effect saw then (failed checks,
 * a stopped switch, a refused systemd-run) says nothing about the generation, and the next boot decides.
 */
export function hostShuttingDown(systemState: string): boolean {
  return systemState.trim() === 'stopping';
}
