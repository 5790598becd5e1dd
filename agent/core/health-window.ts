// The health window rule, pure: every check passes within the timeout, then keeps passing for the stable time.
import type { HealthResult } from '../../shared/report.js';

export interface WindowState {
  readonly startedAt: number;
  /** When the current unbroken run of all-passing rounds began; null while something fails. */
  readonly passingSince: number | null;
}

export type Verdict = 'continue' | 'passed' | 'failed';

export interface WindowTiming {
  readonly timeoutMs: number;
  readonly stableMs: number;
}

/** Folds one round of results into the window and says whether the window is decided. */
export function judgeRound(
  state: WindowState,
  allOk: boolean,
  now: number,
  timing: WindowTiming,
): { state: WindowState; verdict: Verdict } {
  if (allOk) {
    const passingSince = state.passingSince ?? now;
    if (now - passingSince >= timing.stableMs) return { state: { ...state, passingSince }, verdict: 'passed' };
    return { state: { ...state, passingSince }, verdict: 'continue' };
  }
  const next = { ...state, passingSince: null };
  return { state: next, verdict: now - state.startedAt >= timing.timeoutMs ? 'failed' : 'continue' };
}

/** One line naming what failed, for reports and logs. */
export function failureReason(results: readonly HealthResult[]): string {
  const failing = results.filter((r) => !r.ok);
  if (failing.length === 0) return 'health checks did not pass';
  return `health check failed: ${failing.map((r) => `${r.name} (${r.detail})`).join(', ')}`;
}

/** True when the only failing checks are controller checks: the new generation cut the host off. */
export function onlyControllerFailed(results: readonly HealthResult[]): boolean {
  const failing = results.filter((r) => !r.ok);
  return failing.length > 0 && failing.every((r) => r.type === 'controller');
}
