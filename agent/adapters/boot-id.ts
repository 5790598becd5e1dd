// This boot's id: it changes with every boot, so a journal that recorded another one knows the host rebooted.
import { readFile } from 'node:fs/promises';

export async function readBootId(path = '/proc/sys/kernel/random/boot_id'): Promise<string | null> {
  try {
    const id = (await readFile(path, 'utf8')).trim();
    return /^[0-9a-f-]{32,36}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}
