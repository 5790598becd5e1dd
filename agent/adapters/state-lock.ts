// One lock per state directory (`<stateDir>/agent.lock`): the daemon, `once` and `rollback` never run at once.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError, errnoCode } from '../../shared/errors.js';
import { fsyncDirectory } from '../../shared/files.js';
import { parseJson } from '../../shared/json.js';
import { LockHolderSchema, lockHeldMessage, lockIsStale, parseStartTime, type LockHolder, type LockSeen } from '../core/state-lock.js';
import { readBootId } from './boot-id.js';
import { agentStatePaths } from '../../shared/layout.js';

/** Another agent process holds the state directory. */
export class StateLockedError extends EnvironmentError {
  override name = 'StateLockedError' as const;
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {
    super(lockHeldMessage(path, holder));
  }
}

export interface StateLock {
  readonly path: string;
  /** Removes the lock if it is still this process's. */
  release(): Promise<void>;
}

export function lockPath(stateDir: string): string {
  return agentStatePaths(stateDir).lock;
}

async function processSeen(pid: number): Promise<LockSeen['process']> {
  try {
    return { running: true, startTime: parseStartTime(await readFile(`/proc/${pid}/stat`, 'utf8')) };
  } catch {
    return { running: false };
  }
}

async function seen(pid: number): Promise<LockSeen> {
  return { process: await processSeen(pid), bootId: await readBootId(), ownPid: process.pid };
}

/** The holder recorded in `path`; null when the file is gone or unreadable (a torn file is treated as stale). */
async function readHolder(path: string): Promise<{ holder: LockHolder | null; text: string } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
  try {
    return { holder: parseJson(text, LockHolderSchema, (detail) => new Error(detail)), text };
  } catch {
    return { holder: null, text };
  }
}

/**
 * Takes the lock for `command`, or throws StateLockedError naming the holder. The lock file appears whole
 * (written to a temp file, fsynced, then hard-linked into place, which fails if one exists). A lock whose
 * process is gone is taken over: moved aside, checked to be the one judged stale, then removed.
 */
export async function acquireStateLock(stateDir: string, command: string, now: () => Date = () => new Date()): Promise<StateLock> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = lockPath(stateDir);
  const own = await processSeen(process.pid);
  const holder: LockHolder = {
    pid: process.pid,
    startTime: own.running ? own.startTime : null,
    bootId: await readBootId(),
    command,
    since: now().toISOString(),
  };
  const text = `${JSON.stringify(holder)}\n`;
  const temp = join(stateDir, `.agent.lock.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        await link(temp, path);
        await fsyncDirectory(stateDir);
        return { path, release: () => releaseIfOurs(path, text) };
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
      const found = await readHolder(path);
      if (found === null) continue;
      if (found.holder !== null && !lockIsStale(found.holder, await seen(found.holder.pid))) {
        throw new StateLockedError(path, found.holder);
      }
      await takeOverStale(path, found.text);
    }
    throw new EnvironmentError(`cannot take ${path}: it keeps changing; is another tsdeploy-agent starting?`);
  } finally {
    await rm(temp, { force: true });
  }
}

/** Moves a stale lock aside; if what was moved is not the lock judged stale (another process took it meanwhile), puts it back. */
async function takeOverStale(path: string, staleText: string): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved !== null && moved !== staleText) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}

async function releaseIfOurs(path: string, text: string): Promise<void> {
  const found = await readFile(path, 'utf8').catch(() => null);
  if (found === text) await rm(path, { force: true });
}

/**
 * Runs `fn` holding the lock, waiting (rechecking every `retryMs`) while another process holds it: the daemon
 * takes it this way for each resume and deployment, so an operator's `once` or `rollback` delays it, never fails it.
 */
export async function whileHoldingStateLock<T>(
  stateDir: string,
  command: string,
  fn: () => Promise<T>,
  options: { readonly onWait?: (holder: LockHolder) => void; readonly retryMs?: number } = {},
): Promise<T> {
  let lock: StateLock | null = null;
  let told: number | null = null;
  while (lock === null) {
    try {
      lock = await acquireStateLock(stateDir, command);
    } catch (error) {
      if (!(error instanceof StateLockedError)) throw error;
      if (told !== error.holder.pid) options.onWait?.(error.holder);
      told = error.holder.pid;
      await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Runs `fn` holding the state directory's lock; the lock is released when it ends, whatever happens. */
export async function withStateLock<T>(stateDir: string, command: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireStateLock(stateDir, command);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
