// Where a rollback goes and how: the exact generation recorded before the switch, in the deployment's mode. Pure.
import type { Activation } from '../../shared/manifest.js';
import type { Journal, Previous } from './journal.js';

export interface RollbackPlan {
  /** The profile generation to switch back to, or null when the profile was never changed. */
  readonly generation: number | null;
  /** The system whose switch-to-configuration runs. */
  readonly target: string;
  readonly mode: 'switch' | 'boot' | 'test';
  /** `boot` changes nothing that runs now, so there is nothing to check. */
  readonly checkHealth: boolean;
}

/**
 * After `switch` or `boot`, the profile goes back to the recorded generation and that system is
 * activated the same way; after `test`, the profile was never touched and the running system before
 * the deployment is activated again with `test`. Null when nothing was recorded to go back to.
 */
export function planRollback(previous: Previous, activation: Activation): RollbackPlan | null {
  const mode = activation === 'boot' ? 'boot' : activation === 'test' ? 'test' : 'switch';
  if ((activation === 'switch' || activation === 'boot') && previous.generation !== null && previous.path !== null) {
    return { generation: previous.generation, target: previous.path, mode, checkHealth: mode !== 'boot' };
  }
  const target = previous.currentSystem ?? previous.path;
  if (target === null) return null;
  return { generation: null, target, mode, checkHealth: mode !== 'boot' };
}

export interface GenerationLink {
  readonly generation: number;
  readonly path: string;
}

/**
 * An operator's rollback target, among the generations that still exist: the newest older than the current one
 * that was confirmed; when none older was, the newest older one whose deployment did not fail (a generation
 * from before the agent, or one set by hand). Never one recorded as failed. Without records (a journal from an
 * older agent): the newest older generation.
 */
export function operatorRollbackTarget(
  generations: readonly GenerationLink[],
  current: number,
  judged: Pick<Journal, 'confirmedGenerations' | 'failedGenerations'> = {},
): GenerationLink | null {
  const same = (record: GenerationLink, link: GenerationLink) => record.generation === link.generation && record.path === link.path;
  const failed = judged.failedGenerations ?? [];
  const confirmed = judged.confirmedGenerations ?? [];
  const older = generations.filter((link) => link.generation < current && !failed.some((r) => same(r, link)));
  const newest = (links: readonly GenerationLink[]) =>
    links.reduce<GenerationLink | null>((best, link) => (best === null || link.generation > best.generation ? link : best), null);
  return newest(older.filter((link) => confirmed.some((r) => same(r, link)))) ?? newest(older);
}
