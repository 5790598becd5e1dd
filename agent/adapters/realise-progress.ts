// Follows a realise: the dry run's plan, Nix's "copying path" lines, which planned paths are valid and how big,
// and what the paths being copied hold so far. Writes <stateDir>/realise-progress.json for `status` and hands
// figures to the driver for reports, about every few seconds.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { runCommand } from '../../shared/command.js';
import { errorMessage } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/files.js';
import type { Logger } from '../../shared/log.js';
import { RealiseProgressSchema, type RealiseProgress } from '../../shared/report.js';
import { StorePathSchema } from '../../shared/validate.js';
import { copyingPath, progressDue, progressOf, type Emitted, type FetchPlan } from '../core/realise-progress.js';
import type { RealiseProgressPort, RealiseTracker } from '../ports.js';
import { checkValidityArgs, dryRunArgs, parseFetchPlan, querySizeArgs } from './nix.js';
import { agentStatePaths } from '../../shared/layout.js';

/** Seconds between looks at the store while a closure is fetched, and so the shortest gap between two reports. */
export const PROGRESS_INTERVAL_MS = 3000;

/** Files looked at per path per look: a path with more is counted when it is done. */
const WALK_BUDGET = 20_000;

export const ProgressFileSchema = z
  .object({ storePath: StorePathSchema, updatedAt: z.string(), progress: RealiseProgressSchema })
  .strict();
export type ProgressFile = z.infer<typeof ProgressFileSchema>;

/** The progress file of `stateDir`, or null when there is none (or it is unreadable). */
export async function readProgressFile(stateDir: string): Promise<ProgressFile | null> {
  try {
    return ProgressFileSchema.parse(JSON.parse(await readFile(agentStatePaths(stateDir).realiseProgress, 'utf8')));
  } catch {
    return null;
  }
}

/** Bytes of regular files under `path` (lstat, no links followed), looking at no more than `budget` entries. */
async function treeBytes(path: string, budget: { left: number }): Promise<number> {
  if (budget.left <= 0) return 0;
  budget.left -= 1;
  const info = await lstat(path).catch(() => null);
  if (info === null) return 0;
  if (info.isFile()) return info.size;
  if (!info.isDirectory()) return 0;
  const names = await readdir(path).catch(() => [] as string[]);
  let total = 0;
  for (const name of names) total += await treeBytes(join(path, name), budget);
  return total;
}

/** NAR sizes of those of `paths` that are valid in the store. */
async function validSizes(paths: readonly string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (paths.length === 0) return sizes;
  const invalid = new Set((await runCommand({ argv: checkValidityArgs(paths), timeoutMs: 30_000 })).stdout.split('\n').map((l) => l.trim()));
  const valid = paths.filter((path) => !invalid.has(path));
  if (valid.length === 0) return sizes;
  const lines = (await runCommand({ argv: querySizeArgs(valid), timeoutMs: 30_000 })).stdout.trim().split('\n');
  valid.forEach((path, i) => {
    const size = Number(lines[i]);
    if (Number.isSafeInteger(size) && size >= 0) sizes.set(path, size);
  });
  return sizes;
}

export interface RealiseProgressOptions {
  readonly stateDir: string;
  readonly log: Logger;
  readonly host: string;
  readonly intervalMs?: number;
  readonly nowMs?: () => number;
}

export function createRealiseProgress(options: RealiseProgressOptions): RealiseProgressPort {
  const intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
  const nowMs = options.nowMs ?? Date.now;
  const progressFile = agentStatePaths(options.stateDir).realiseProgress;
  let latest: { storePath: string; progress: RealiseProgress } | null = null;

  const save = async (storePath: string, progress: RealiseProgress): Promise<void> => {
    latest = { storePath, progress };
    const file: ProgressFile = { storePath, updatedAt: new Date(nowMs()).toISOString(), progress };
    await writeFileAtomic(progressFile, `${JSON.stringify(file)}\n`, 0o644).catch((error: unknown) =>
      options.log.warn({ host: options.host, err: errorMessage(error) }, 'writing realise progress failed'),
    );
  };

  return {
    current: (storePath) => (latest !== null && latest.storePath === storePath ? latest.progress : null),
    async start(storePath, emit): Promise<RealiseTracker> {
      let plan: FetchPlan | null = null;
      try {
        const { stdout, stderr } = await runCommand({ argv: dryRunArgs(storePath), timeoutMs: 120_000 });
        plan = parseFetchPlan(`${stdout}\n${stderr}`);
      } catch (error) {
        options.log.warn({ host: options.host, storePath, err: errorMessage(error) }, 'no realise progress: the dry run failed');
      }
      if (plan === null || plan.paths.length === 0) return { onLine: () => undefined, finish: async () => undefined };
      const fetchPlan = plan;
      const planned = new Set(fetchPlan.paths);
      const started = new Set<string>();
      const done = new Map<string, number>();
      let last: Emitted | null = null;
      const publish = async (progress: RealiseProgress): Promise<void> => {
        if (!progressDue(last, progress, nowMs(), intervalMs)) return;
        last = { atMs: nowMs(), progress };
        await save(storePath, progress);
        emit(progress);
      };
      const measure = async (): Promise<void> => {
        const pending = [...started].filter((path) => !done.has(path));
        for (const [path, size] of await validSizes(pending)) done.set(path, size);
        const budget = { left: WALK_BUDGET };
        let inFlightBytes = 0;
        for (const path of pending) if (!done.has(path)) inFlightBytes += await treeBytes(path, budget);
        await publish(progressOf(fetchPlan, { done, inFlightBytes }, 'no'));
      };
      let looking: Promise<void> = Promise.resolve();
      const timer = setInterval(() => {
        looking = looking.then(measure).catch((error: unknown) => options.log.debug({ host: options.host, err: errorMessage(error) }, 'measuring realise progress failed'));
      }, intervalMs);
      timer.unref();
      await publish(progressOf(fetchPlan, { done, inFlightBytes: 0 }, 'no'));
      return {
        onLine(line) {
          const path = copyingPath(line);
          if (path !== null && planned.has(path)) started.add(path);
        },
        async finish(ok) {
          clearInterval(timer);
          await looking;
          await publish(progressOf(fetchPlan, { done, inFlightBytes: 0 }, ok ? 'ok' : 'failed'));
        },
      };
    },
  };
}
