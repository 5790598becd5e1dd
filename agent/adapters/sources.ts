// Several manifest sources tried in order (the controller first, then static mirrors), each with its own back-off.
import { errorMessage } from '../../shared/errors.js';
import type { FetchResult, ManifestSource } from '../ports.js';
import { FetchError } from './source.js';

export interface SourceListOptions {
  /** First failure waits this long before the source is tried again; each further failure doubles it. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly now?: () => number;
  readonly onFallback?: (failed: number, error: string) => void;
}

interface Slot {
  readonly source: ManifestSource;
  failures: number;
  retryAt: number;
  etag: string | null;
}

/**
 * One source made of several. Manifests are signed, so a mirror needs no trust: any source's answer
 * goes through the same acceptance. The first source is asked to long-poll; fallbacks are polled.
 * A failing source is skipped until its back-off ends, unless every source is backing off.
 */
export function createSourceList(sources: readonly ManifestSource[], options: SourceListOptions = {}): ManifestSource {
  const first = sources[0];
  if (first === undefined) throw new Error('createSourceList needs at least one source');
  if (sources.length === 1) return first;
  const now = options.now ?? Date.now;
  const backoffMs = options.backoffMs ?? 5_000;
  const maxBackoffMs = options.maxBackoffMs ?? 300_000;
  const slots: Slot[] = sources.map((source) => ({ source, failures: 0, retryAt: 0, etag: null }));
  return {
    kind: first.kind,
    async fetch(_etag, waitSeconds): Promise<FetchResult> {
      const ready = slots.filter((slot) => slot.retryAt <= now());
      const order = ready.length > 0 ? ready : slots;
      const errors: string[] = [];
      for (const slot of order) {
        const index = slots.indexOf(slot);
        try {
          const result = await slot.source.fetch(slot.etag, index === 0 ? waitSeconds : 0);
          slot.failures = 0;
          slot.retryAt = 0;
          if (result.kind === 'manifest') slot.etag = result.etag;
          return result;
        } catch (error) {
          slot.failures += 1;
          slot.retryAt = now() + Math.min(maxBackoffMs, backoffMs * 2 ** (slot.failures - 1));
          errors.push(errorMessage(error));
          options.onFallback?.(index, errorMessage(error));
        }
      }
      throw new FetchError(`no manifest source answered: ${errors.join('; ')}`);
    },
    async close() {
      await Promise.all(slots.map((slot) => slot.source.close()));
    },
  };
}
