// Who holds the state directory's lock, and whether that holder is still alive. Pure.
import { z } from 'zod';

/** `<stateDir>/agent.lock`: the process that holds it and the command it runs. */
export const LockHolderSchema = z
  .object({
    pid: z.number().int().positive(),
    /** The holder's start time (field 22 of /proc/PID/stat), so a reused pid is not taken for the holder. */
    startTime: z.string().max(32).nullable(),
    /** The boot the holder ran in: a lock left by an earlier boot is stale whatever its pid. */
    bootId: z.string().max(64).nullable(),
    command: z.string().max(64),
    since: z.string().max(64),
  })
  .strict();
export type LockHolder = z.infer<typeof LockHolderSchema>;

/** What was seen of the recorded pid (absent, or running with this start time), and of this process. */
export interface LockSeen {
  readonly process: { readonly running: false } | { readonly running: true; readonly startTime: string | null };
  readonly bootId: string | null;
  readonly ownPid: number;
}

/**
 * A lock is stale when it was left by an earlier boot, when its process is gone, when its pid now belongs
 * to another process (another start time), or when the pid is this process's own (which takes the lock once).
 */
export function lockIsStale(holder: LockHolder, seen: LockSeen): boolean {
  if (holder.bootId !== null && seen.bootId !== null && holder.bootId !== seen.bootId) return true;
  if (holder.pid === seen.ownPid || !seen.process.running) return true;
  return holder.startTime !== null && seen.process.startTime !== null && holder.startTime !== seen.process.startTime;
}

/** The one line printed when the lock is held. */
export function lockHeldMessage(path: string, holder: LockHolder): string {
  return `another tsdeploy-agent holds ${path}: pid ${holder.pid} (${holder.command}, since ${holder.since}); try again when it has finished`;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); the command name may contain spaces and parentheses. */
export function parseStartTime(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  // Fields after the name start at field 3 (state), so field 22 is index 19.
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : null;
}
