// Realise progress: Nix's "copying path … from …" lines against the dry run's plan, and when a report is due. Pure.
import type { RealiseProgress } from '../../shared/report.js';

/** What the dry run said will be fetched. */
export interface FetchPlan {
  readonly paths: readonly string[];
  /** Nix's "MiB unpacked" figure: the NAR size of those paths together. */
  readonly bytesTotal: number;
}

const COPYING = /^copying path '(\/nix\/store\/[^']+)' from '[^']*'/;

/** The store path a line of `nix-store --realise` starts fetching, or null. */
export function copyingPath(line: string): string | null {
  return COPYING.exec(line.trim())?.[1] ?? null;
}

export interface Measured {
  /** NAR sizes of the planned paths that are valid in the store now. */
  readonly done: ReadonlyMap<string, number>;
  /** What the paths being copied hold on disk so far. */
  readonly inFlightBytes: number;
}

/**
 * Paths and bytes done of the plan. Nix rounds the total to 0.01 MiB, so the bytes done are kept within it;
 * a finished, successful realise has fetched everything.
 */
export function progressOf(plan: FetchPlan, measured: Measured, finished: 'no' | 'ok' | 'failed'): RealiseProgress {
  const pathsTotal = plan.paths.length;
  const bytesTotal = plan.bytesTotal;
  if (finished === 'ok') return { pathsDone: pathsTotal, pathsTotal, bytesDone: bytesTotal, bytesTotal, finished: true };
  let pathsDone = 0;
  let bytes = measured.inFlightBytes;
  for (const path of plan.paths) {
    const size = measured.done.get(path);
    if (size === undefined) continue;
    pathsDone += 1;
    bytes += size;
  }
  return { pathsDone, pathsTotal, bytesDone: Math.min(Math.round(bytes), bytesTotal), bytesTotal, finished: finished === 'failed' };
}

export interface Emitted {
  readonly atMs: number;
  readonly progress: RealiseProgress;
}

/** The first figure and the final one always go out; in between, only a change, and at most once per `intervalMs`. */
export function progressDue(last: Emitted | null, next: RealiseProgress, nowMs: number, intervalMs: number): boolean {
  if (last === null || next.finished) return true;
  const changed = next.pathsDone !== last.progress.pathsDone || next.bytesDone !== last.progress.bytesDone;
  return changed && nowMs - last.atMs >= intervalMs;
}
