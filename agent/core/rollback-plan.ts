// Where a rollback goes and how: the exact generation recorded before the switch, in the deployment's mode. Pure.
import type { Activation } from '../../shared/manifest.js';
import type { Previous } from './journal.js';

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

/** An operator's rollback target: the newest generation older than the current one that still exists. */
export function operatorRollbackTarget(generations: readonly GenerationLink[], current: number): GenerationLink | null {
  let best: GenerationLink | null = null;
  for (const link of generations) {
    if (link.generation < current && (best === null || link.generation > best.generation)) best = link;
  }
  return best;
}
