// The `kernel` and `initrd` link targets of a system toplevel in the local Nix store, when it is there.
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootLinks } from './plan.js';

/** Null when the toplevel (or either link) is not in this machine's store: the reboot verdict is then "unknown". */
export async function readBootLinks(toplevel: string): Promise<BootLinks | null> {
  try {
    const [kernel, initrd] = await Promise.all([readlink(join(toplevel, 'kernel')), readlink(join(toplevel, 'initrd'))]);
    return { kernel, initrd };
  } catch {
    return null;
  }
}
