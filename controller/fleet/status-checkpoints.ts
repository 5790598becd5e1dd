// status/<host>.json as a checkpoint of the report log: written after the acknowledgement, coalesced per host.
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { mapBounded } from '../../shared/map-bounded.js';
import { createKeyedMutex } from '../storage/mutex.js';
import type { HostStatusRecord } from '../storage/records.js';
import type { ControllerStore } from '../storage/store.js';

/** How long an accepted report's status may wait before its checkpoint is written. */
export const CHECKPOINT_INTERVAL_MS = 1_000;

/** Checkpoint files written at a time. */
const CHECKPOINT_CONCURRENCY = 16;

export interface StatusCheckpoints {
  /** The host's status changed in memory; its file is written within the interval. */
  mark(host: string): void;
  /** Writes the host's checkpoint now if it is behind (before its log rotates, say). */
  flush(host: string): Promise<void>;
  /** Writes every checkpoint that is behind and stops the timer. */
  close(): Promise<void>;
}

/**
 * A report is durable once its log line is fsynced (one fsync per report); the status file only saves
 * reading log tails at start-up, which `recoverStatuses` does for any host whose checkpoint is behind.
 */
export function createStatusCheckpoints(deps: {
  store: ControllerStore;
  current: (host: string) => HostStatusRecord | null;
  logger: Logger;
  intervalMs?: number;
}): StatusCheckpoints {
  const dirty = new Set<string>();
  const mutex = createKeyedMutex();
  let timer: NodeJS.Timeout | null = null;

  function flush(host: string): Promise<void> {
    return mutex.run(host, async () => {
      if (!dirty.delete(host)) return;
      const record = deps.current(host);
      if (record === null) return;
      try {
        await deps.store.writeHostStatus(record);
      } catch (error) {
        dirty.add(host);
        throw error;
      }
    });
  }

  async function flushAll(): Promise<void> {
    await mapBounded([...dirty], CHECKPOINT_CONCURRENCY, flush);
  }

  const tick = () => {
    timer = null;
    void flushAll()
      .catch((error: unknown) => deps.logger.error({ err: errorMessage(error) }, 'status checkpoint failed; the report log keeps every accepted report'))
      .finally(() => {
        if (dirty.size > 0) schedule();
      });
  };
  function schedule(): void {
    if (timer !== null) return;
    timer = setTimeout(tick, deps.intervalMs ?? CHECKPOINT_INTERVAL_MS);
    timer.unref();
  }

  return {
    mark(host) {
      dirty.add(host);
      schedule();
    },
    flush,
    async close() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await flushAll();
    },
  };
}
