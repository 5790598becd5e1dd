// Lock files between processes on one machine (the server and the admin CLI), broken when their holder is dead.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../../shared/errors.js';

export class LockBusyError extends UserError {
  override name = 'LockBusyError' as const;
  constructor(readonly path: string, readonly pid: number) {
    super(`${path} is held by process ${pid}; if no tsdeploy-controller runs with that pid, delete the file`);
  }
}

/** True while a process with this pid exists (EPERM: it exists but is not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function holderOf(path: string): Promise<number | null> {
  try {
    const text = await readFile(path, 'utf8');
    return /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw error;
  }
}

/** The pid in the name of a temp file `<lock>.<pid>.<hex>` that acquireFileLock links from, or null. */
export function lockTempPid(name: string): number | null {
  const match = /\.lock\.(\d+)\.[0-9a-f]{8}$/.exec(name);
  return match === null ? null : Number(match[1]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes `path` as a lock: created whole with our pid by link(2), so it is never seen empty.
 * A lock whose holder is dead (kill -9) is removed. Waits up to `waitMs` for a live holder.
 * Locks only order writers; they need no durability, so nothing is fsynced.
 */
export async function acquireFileLock(path: string, waitMs: number): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, `${process.pid}\n`);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      try {
        await link(temp, path);
        return async () => {
          await rm(path, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await holderOf(path);
      if (holder === -1) continue;
      if (holder === null || !isAlive(holder)) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw new LockBusyError(path, holder);
      await sleep(10);
    }
  } finally {
    await rm(temp, { force: true });
  }
}
