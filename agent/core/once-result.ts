// What one `once` run ended with, as scripts read it: a result word, an exit code and one line. Pure.
import { EXIT } from '../../shared/errors.js';
import { cycleExitCode } from './outcome.js';

export type OnceResult =
  | 'no-manifest'
  | 'unchanged'
  | 'rejected'
  | 'deployed'
  /** No manifest source answered. */
  | 'unreachable'
  /** The controller has the agent's key but no operator approved it yet. */
  | 'enrollment-pending';

/** 0 in sync or applied, 3 rejected, 4 rolled back, 1 failed, unreachable or waiting for approval. */
export function onceExitCode(result: OnceResult, phase: string | null): number {
  switch (result) {
    case 'unreachable':
    case 'enrollment-pending':
      return EXIT.failure;
    default:
      return cycleExitCode(result, phase);
  }
}

/** The line a person reads for the results that end before any deployment; null for the others. */
export function onceLine(result: OnceResult, host: string, reason: string | null): string | null {
  switch (result) {
    case 'unreachable':
      return `unreachable: ${reason ?? 'no manifest source answered'}`;
    case 'enrollment-pending':
      return `enrollment pending: approve this host's key at the controller (tsdeploy-controller hosts approve ${host}), then run once again`;
    case 'no-manifest':
      return `no manifest published for ${host}`;
    default:
      return null;
  }
}
