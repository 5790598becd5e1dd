// Reads a system's boot files (kernel, initrd, kernel-modules links) for the core's reboot check.
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootFiles } from '../core/reboot.js';

const resolved = (path: string): Promise<string | null> => realpath(path).catch(() => null);

/** The resolved boot files of `system` (a store path or a link such as /run/booted-system); null when it is absent. */
export async function readBootFiles(system: string | null): Promise<BootFiles | null> {
  if (system === null || (await resolved(system)) === null) return null;
  const [kernel, initrd, kernelModules] = await Promise.all(['kernel', 'initrd', 'kernel-modules'].map((name) => resolved(join(system, name))));
  return { kernel: kernel ?? null, initrd: initrd ?? null, kernelModules: kernelModules ?? null };
}
