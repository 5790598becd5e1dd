// How a phase reads from outside: a report's outcome and a one-shot command's exit code. Pure.
import { EXIT } from '../../shared/errors.js';
import type { Outcome, Phase } from '../../shared/report.js';

export function outcomeOf(phase: Phase): Outcome {
  switch (phase) {
    case 'confirmed':
    case 'idle':
      return 'success';
    case 'rolled-back':
      return 'rolled-back';
    case 'failed':
      return 'failure';
    case 'rejected':
      return 'rejected';
    default:
      return 'in-progress';
  }
}

/** The exit code of a cycle: 3 rejected, 4 rolled back, 1 failed, 0 otherwise (in sync, applied, nothing published). */
export function cycleExitCode(result: 'no-manifest' | 'unchanged' | 'rejected' | 'deployed', phase: string | null): number {
  if (result === 'rejected') return EXIT.rejected;
  if (result === 'no-manifest') return EXIT.ok;
  if (phase === 'rolled-back') return EXIT.rolledBack;
  if (phase === 'failed') return EXIT.failure;
  return EXIT.ok;
}
