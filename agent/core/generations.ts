// Which profile generations the agent made are known good (confirmed) or bad (their deployment failed), and
// which to delete so the garbage collector can reclaim them. Pure. (An operator's rollback target: rollback-plan.ts.)
import { isTerminal } from './effects.js';
import type { GenerationRecord, Journal } from './journal.js';
import type { GenerationLink } from './rollback-plan.js';

const MAX_RECORDS = 100;

const same = (a: GenerationRecord, b: GenerationRecord) => a.generation === b.generation && a.path === b.path;

function add(list: readonly GenerationRecord[] | undefined, record: GenerationRecord): GenerationRecord[] {
  const rest = (list ?? []).filter((r) => r.generation !== record.generation);
  return [...rest, record].sort((a, b) => a.generation - b.generation).slice(-MAX_RECORDS);
}

/**
 * Records the profile generation of a deployment that has just ended: confirmed ones as good, failed and
 * rolled-back ones as bad. Only generations the deployment made (a manifest's, not an operator's rollback);
 * a probation deployment that failed never made one.
 */
export function recordGenerations(before: Journal, after: Journal): Journal {
  const ended = after.deployment;
  if (ended === null || !isTerminal(ended.phase) || ended.generation === null || ended.trigger === 'operator') return after;
  const was = before.deployment;
  if (was !== null && was.startedAt === ended.startedAt && was.version === ended.version && isTerminal(was.phase)) return after;
  const record = { generation: ended.generation, path: ended.storePath };
  if (ended.phase === 'confirmed') {
    return { ...after, confirmedGenerations: add(after.confirmedGenerations, record), failedGenerations: (after.failedGenerations ?? []).filter((r) => !same(r, record)) };
  }
  return { ...after, failedGenerations: add(after.failedGenerations, record) };
}

const exists = (links: readonly GenerationLink[], record: GenerationRecord) => links.some((link) => same(link, record));

/**
 * Generations to delete (`nix-env --delete-generations`): every one the agent made whose deployment failed,
 * and confirmed ones beyond the newest `keep`. Never the current generation, never one the agent did not make.
 */
export function generationsToDelete(
  generations: readonly GenerationLink[],
  current: number,
  journal: Pick<Journal, 'confirmedGenerations' | 'failedGenerations'>,
  keep: number,
): number[] {
  const confirmed = (journal.confirmedGenerations ?? []).filter((r) => exists(generations, r));
  const failed = (journal.failedGenerations ?? []).filter((r) => exists(generations, r) && !confirmed.some((c) => same(c, r)));
  const surplus = [...confirmed].sort((a, b) => b.generation - a.generation).slice(Math.max(0, keep));
  return [...new Set([...failed, ...surplus].map((r) => r.generation))].filter((g) => g !== current).sort((a, b) => a - b);
}

/** Forgets records of generations that no longer exist; the same journal when nothing changed. */
export function forgetDeleted(journal: Journal, generations: readonly GenerationLink[]): Journal {
  const keepIn = (list: readonly GenerationRecord[] | undefined) => (list ?? []).filter((r) => exists(generations, r));
  const confirmed = keepIn(journal.confirmedGenerations);
  const failed = keepIn(journal.failedGenerations);
  if (confirmed.length === (journal.confirmedGenerations ?? []).length && failed.length === (journal.failedGenerations ?? []).length) return journal;
  return { ...journal, confirmedGenerations: confirmed, failedGenerations: failed };
}
