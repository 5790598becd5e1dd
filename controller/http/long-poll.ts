// Long-poll waiters per host: a publish wakes every request waiting on that host at once; one sweep
// timer over deadline buckets ends the waits that ran out (no timer per waiter).

export type WakeReason = 'published' | 'timeout' | 'closing';

export interface ManifestWatch {
  /** Calls `onWake` once: on a publish for `host`, after `timeoutMs`, or at shutdown. Returns a cancel function. */
  wait(host: string, timeoutMs: number, onWake: (reason: WakeReason) => void): () => void;
  published(host: string): void;
  /** Waiters currently held (a disconnected client must not leave one behind). */
  count(): number;
  closeAll(): void;
}

/** Deadlines are kept in buckets this wide, and the sweep runs once per bucket: a wait ends at most this late. */
export const SWEEP_MS = 250;

interface Waiter {
  readonly host: string;
  readonly bucket: number;
  readonly onWake: (reason: WakeReason) => void;
}

export function createManifestWatch(now: () => number = Date.now): ManifestWatch {
  const byHost = new Map<string, Set<Waiter>>();
  const byBucket = new Map<number, Set<Waiter>>();
  let total = 0;
  let sweeper: NodeJS.Timeout | null = null;

  function remove(waiter: Waiter): boolean {
    const set = byHost.get(waiter.host);
    if (set === undefined || !set.delete(waiter)) return false;
    if (set.size === 0) byHost.delete(waiter.host);
    const bucket = byBucket.get(waiter.bucket);
    bucket?.delete(waiter);
    if (bucket?.size === 0) byBucket.delete(waiter.bucket);
    total -= 1;
    if (total === 0 && sweeper !== null) {
      clearInterval(sweeper);
      sweeper = null;
    }
    return true;
  }

  function wake(waiter: Waiter, reason: WakeReason): void {
    if (remove(waiter)) waiter.onWake(reason);
  }

  function sweep(): void {
    const current = Math.floor(now() / SWEEP_MS);
    for (const [bucket, set] of [...byBucket]) {
      if (bucket > current) continue;
      for (const waiter of [...set]) wake(waiter, 'timeout');
    }
  }

  return {
    wait(host, timeoutMs, onWake) {
      // Rounded up: a wait never ends before its deadline.
      const waiter: Waiter = { host, bucket: Math.ceil((now() + timeoutMs) / SWEEP_MS), onWake };
      const set = byHost.get(host) ?? new Set();
      set.add(waiter);
      byHost.set(host, set);
      const bucket = byBucket.get(waiter.bucket) ?? new Set();
      bucket.add(waiter);
      byBucket.set(waiter.bucket, bucket);
      total += 1;
      sweeper ??= setInterval(sweep, SWEEP_MS);
      return () => void remove(waiter);
    },
    published(host) {
      for (const waiter of [...(byHost.get(host) ?? [])]) wake(waiter, 'published');
    },
    count: () => total,
    closeAll() {
      for (const [, set] of [...byHost]) for (const waiter of [...set]) wake(waiter, 'closing');
    },
  };
}
