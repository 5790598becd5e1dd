// Long-poll waiters per host: a publish wakes every request waiting on that host at once.

export type WakeReason = 'published' | 'timeout' | 'closing';

export interface ManifestWatch {
  /** Calls `onWake` once: on a publish for `host`, after `timeoutMs`, or at shutdown. Returns a cancel function. */
  wait(host: string, timeoutMs: number, onWake: (reason: WakeReason) => void): () => void;
  published(host: string): void;
  /** Waiters currently held (a disconnected client must not leave one behind). */
  count(): number;
  closeAll(): void;
}

export function createManifestWatch(): ManifestWatch {
  const waiters = new Map<string, Set<(reason: WakeReason) => void>>();
  let total = 0;

  function remove(host: string, waiter: (reason: WakeReason) => void): boolean {
    const set = waiters.get(host);
    if (set === undefined || !set.delete(waiter)) return false;
    total -= 1;
    if (set.size === 0) waiters.delete(host);
    return true;
  }

  return {
    wait(host, timeoutMs, onWake) {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (reason: WakeReason) => {
        if (timer !== undefined) clearTimeout(timer);
        if (remove(host, waiter)) onWake(reason);
      };
      const set = waiters.get(host) ?? new Set();
      set.add(waiter);
      waiters.set(host, set);
      total += 1;
      timer = setTimeout(() => waiter('timeout'), timeoutMs);
      return () => {
        if (timer !== undefined) clearTimeout(timer);
        remove(host, waiter);
      };
    },
    published(host) {
      for (const waiter of [...(waiters.get(host) ?? [])]) waiter('published');
    },
    count: () => total,
    closeAll() {
      for (const [, set] of waiters) for (const waiter of [...set]) waiter('closing');
    },
  };
}
