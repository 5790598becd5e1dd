// Probation's decisions: a healthy `test` run stages the boot entry; a reboot during probation has already
// brought the host back on the last good generation, and is recorded as a rollback. Pure.
import { effectFor, withDeployment } from './effects.js';
import type { Deployment, Journal } from './journal.js';
import type { StepResult } from './step.js';
import type { HealthResult } from '../../shared/report.js';

/** What probation needs from an event; the full Event union lives in step.ts. */
export type ProbationEvent =
  | { readonly type: 'healthy'; readonly results: readonly HealthResult[] }
  | { readonly type: 'boot-staged'; readonly generation: number };

/** What probation needs from the driver's observation on resume. */
export interface BootObservation {
  readonly currentSystem: string | null;
  readonly bootId?: string | null;
}

export interface ProbationHelpers {
  ended(journal: Journal, deployment: Deployment): StepResult;
  failOrRollBack(journal: Journal, deployment: Deployment, reason: string, rollBack: boolean, now: string): StepResult;
}

export const REBOOTED_IN_PROBATION = 'rolled back: host rebooted during probation; it came back on the previous generation';

/** True when `observed` is another boot than the one the deployment recorded. */
export function rebootedSince(deployment: Deployment, bootId: string | null | undefined): boolean {
  return deployment.bootId !== undefined && deployment.bootId !== null && bootId !== undefined && bootId !== null && bootId !== deployment.bootId;
}

/** Probation's part of `step` for a health verdict and a staged boot entry; null when the ordinary rule applies. */
export function probationStep(journal: Journal, deployment: Deployment, event: ProbationEvent, time: string): StepResult | null {
  if (deployment.probation !== true) return null;
  const at = (phase: Deployment['phase'], extra: Partial<Deployment> = {}): Deployment => ({ ...deployment, ...extra, phase, updatedAt: time });
  if (event.type === 'boot-staged') {
    return { journal: withDeployment(journal, at('confirmed', { generation: event.generation, reason: null })), effect: null };
  }
  if (deployment.phase !== 'checking-health') return null;
  const lastHealth = { time, ok: true, results: [...event.results] };
  const next = at('staging-boot');
  return { journal: { ...withDeployment(journal, next), lastHealth }, effect: effectFor(next, false) };
}

/**
 * A resume of a probation deployment after a reboot; null when nothing rebooted or nothing follows from it.
 * In probation (the `test` run or its health window) the profile and boot entry were never touched, so the
 * boot came back on the previous generation: recorded as a rollback. While staging the boot entry, a boot
 * that did not come up on the new generation is rolled back to the recorded one (the profile may be set).
 * `deployment` already counts this resume.
 */
export function probationResume(journal: Journal, deployment: Deployment, observed: BootObservation, time: string, helpers: ProbationHelpers): StepResult | null {
  if (deployment.probation !== true || !rebootedSince(deployment, observed.bootId)) return null;
  if (deployment.phase === 'probation' || deployment.phase === 'checking-health') {
    return helpers.ended(journal, { ...deployment, phase: 'rolled-back', reason: REBOOTED_IN_PROBATION, updatedAt: time });
  }
  if (deployment.phase === 'staging-boot' && observed.currentSystem !== deployment.storePath) {
    return helpers.failOrRollBack(journal, deployment, 'host rebooted while the boot entry was being staged', true, time);
  }
  return null;
}

/** Before probation starts a reboot changes nothing; the boot the `test` run will happen in is the one to record. */
export function bootBeforeProbation(deployment: Deployment, observed: BootObservation | undefined): Partial<Deployment> {
  if (deployment.probation !== true || observed?.bootId === undefined) return {};
  const inProbation = deployment.phase === 'probation' || deployment.phase === 'checking-health' || deployment.phase === 'staging-boot';
  return inProbation ? {} : { bootId: observed.bootId };
}
