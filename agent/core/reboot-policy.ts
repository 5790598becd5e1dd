// Deployments that need a reboot (`reboot: "when-needed"`): check the running system, stage the boot entry, wait
// for the maintenance window, a random delay and the inhibitor locks, reboot, check the booted generation, and if it
// is unhealthy make the previous one the boot default again and reboot into it, once. Pure.
import type { Inhibitor } from '../../shared/report.js';
import { effectFor, withDeployment } from './effects.js';
import type { Deployment, Journal } from './journal.js';
import { revertPlan } from './reboot-effects.js';
import type { RebootState } from './reboot-state.js';
import type { Event, Observation, Policy, StepResult } from './step.js';
import { NO_REBOOTS, awaitingReboot, rebootGate } from './reboot-gate.js';

export type RebootEvent =
  /** What the driver saw for the reboot decision: the inhibitor locks (null when they could not be listed). */
  | {
      readonly type: 'reboot-checked';
      readonly inhibitors: readonly Inhibitor[] | null;
      readonly inhibitorError: string | null;
      /** A uniform draw in [0, 1) for the delay; the core has no randomness of its own. */
      readonly random: number;
      readonly bootId: string | null;
    }
  | { readonly type: 'reboot-requested' }
  | { readonly type: 'reboot-failed'; readonly error: string }
  /** The previous generation is the boot default again; `currentSystem` says whether it already runs. */
  | { readonly type: 'boot-reverted'; readonly currentSystem: string | null };

export interface RebootHelpers {
  ended(journal: Journal, deployment: Deployment): StepResult;
}

const NOT_WAITING: Partial<RebootState> = { waiting: null, nextCheck: null, inhibitors: [] };

/**
 * The reboot path's part of `step`; null where the ordinary rule applies. A `realised` switch whose boot files
 * differ from the booted system's enters it under `reboot: "when-needed"`; from then on the deployment's
 * `reboot.stage` says which system the health window judges and where a failure goes.
 */
export function rebootStep(
  journal: Journal,
  deployment: Deployment,
  event: Event,
  now: Date,
  policy: Policy,
  helpers: RebootHelpers,
): StepResult | null {
  const time = now.toISOString();
  const reboot = deployment.reboot;
  if (event.type === 'realised') return reboot === undefined ? enterRebootPath(journal, deployment, event, time, policy) : null;
  if (reboot === undefined) return null;
  const at = (phase: Deployment['phase'], extra: Partial<Deployment> = {}, state: Partial<RebootState> = {}): Deployment => ({
    ...deployment,
    ...extra,
    phase,
    reboot: { ...reboot, ...state },
    updatedAt: time,
  });
  const go = (next: Deployment, base: Journal = journal, note?: string): StepResult => ({
    journal: withDeployment(base, next),
    effect: effectFor(next, false),
    ...(note === undefined ? {} : { note }),
  });
  const reason = deployment.reason ?? 'deployment failed';

  switch (event.type) {
    case 'resume':
      return rebootResume(journal, deployment, reboot, event.observed, time, helpers);
    case 'healthy': {
      if (deployment.phase !== 'checking-health') return null;
      const withHealth = { ...journal, lastHealth: { time, ok: true, results: [...event.results] } };
      if (reboot.stage === 'before') return go(at('staging-boot'), withHealth);
      if (reboot.stage === 'booted') return { journal: withDeployment(withHealth, at('confirmed', { reason: null }, NOT_WAITING)), effect: null };
      return helpers.ended(withHealth, at('rolled-back', {}, NOT_WAITING));
    }
    case 'unhealthy': {
      if (deployment.phase !== 'checking-health') return null;
      const withHealth = { ...journal, lastHealth: { time, ok: false, results: [...event.results] } };
      if (reboot.stage === 'before') {
        return helpers.ended(withHealth, at('failed', { reason: `the running system is unhealthy, so the boot entry for this generation was not staged: ${event.reason}` }));
      }
      if (reboot.stage === 'reverted') {
        return helpers.ended(withHealth, at('failed', { reason: `${reason}; the previous generation is unhealthy too after the reboot back (${event.reason}); not rebooting again` }));
      }
      const why = `unhealthy after the reboot into this generation: ${event.reason}`;
      const rollBack = event.controllerUnreachable ? policy.onControllerUnreachable : policy.onHealthFailure;
      if (!rollBack) return helpers.ended(withHealth, at('failed', { reason: `${why}; rollback disabled by configuration` }));
      return go(at('rolling-back', { reason: why }), withHealth);
    }
    case 'boot-staged':
      if (deployment.phase !== 'staging-boot') return null;
      return go(at('awaiting-reboot', { generation: event.generation }));
    case 'activation-failed':
      // Staging failed half-way: the boot entry goes back to the running system, whatever the rollback settings.
      if (deployment.phase !== 'staging-boot') return null;
      return go(at('rolling-back', { reason: event.error }));
    case 'boot-reverted': {
      if (reboot.stage === 'before') return helpers.ended(journal, at('rolled-back', {}, NOT_WAITING));
      const target = deployment.previous === null ? null : revertPlan(deployment.previous)?.target;
      const stage = { stage: 'reverted' as const, notBefore: null, ...NOT_WAITING };
      // Already running the previous generation (the host came up on it by itself): no reboot is needed to get there.
      if (target !== undefined && target !== null && event.currentSystem === target) return go(at('checking-health', {}, stage));
      return go(at('awaiting-reboot', {}, stage));
    }
    case 'reboot-checked': {
      if (deployment.phase !== 'awaiting-reboot' && deployment.phase !== 'rebooting') return null;
      const decision = rebootGate({
        now,
        policy: policy.reboot ?? NO_REBOOTS,
        urgent: reboot.stage !== 'before',
        notBefore: reboot.notBefore === null ? null : new Date(reboot.notBefore),
        random: event.random,
        inhibitors: event.inhibitors,
        inhibitorError: event.inhibitorError,
      });
      if (decision.kind === 'reboot') {
        const state = { ...NOT_WAITING, bootId: event.bootId ?? reboot.bootId, requestedAt: time };
        return go(at('rebooting', {}, state), journal, `rebooting ${reboot.stage === 'before' ? 'into this generation' : 'back into the previous generation'}`);
      }
      const state = {
        waiting: decision.reason,
        nextCheck: decision.until?.toISOString() ?? null,
        notBefore: decision.notBefore?.toISOString() ?? null,
        inhibitors: [...decision.inhibitors],
      };
      const next = at('awaiting-reboot', {}, state);
      return { journal: withDeployment(journal, next), effect: null, ...(decision.reason === reboot.waiting ? {} : { note: `reboot waits: ${decision.reason}` }) };
    }
    case 'reboot-requested':
      return { journal: withDeployment(journal, at('rebooting')), effect: null };
    case 'reboot-failed':
      return { journal: withDeployment(journal, at('awaiting-reboot', {}, { waiting: `systemctl reboot failed: ${event.error}`, nextCheck: null })), effect: null };
    default:
      return null;
  }
}

/** A realised `switch` that needs a reboot: the running system's health first, then the boot entry, never a `test` run. */
function enterRebootPath(
  journal: Journal,
  deployment: Deployment,
  event: Extract<Event, { type: 'realised' }>,
  time: string,
  policy: Policy,
): StepResult | null {
  const verdict = event.reboot;
  if (policy.reboot?.mode !== 'when-needed' || deployment.activation !== 'switch' || verdict === undefined || !verdict.needed) return null;
  const { probation: _probation, bootId: _bootId, ...rest } = deployment;
  const next: Deployment = {
    ...rest,
    phase: 'checking-health',
    previous: event.previous,
    reboot: {
      changed: [...verdict.changed],
      stage: 'before',
      bootId: event.bootId ?? null,
      notBefore: null,
      waiting: null,
      nextCheck: null,
      inhibitors: [],
      reboots: 0,
      requestedAt: null,
    },
    updatedAt: time,
  };
  return {
    journal: withDeployment(journal, next),
    effect: effectFor(next, false),
    note: `a reboot is needed (${verdict.changed.join(', ')} changed): checking the running system before staging the boot entry`,
  };
}

/**
 * A resume on the reboot path. In the same boot, a deployment waiting for its reboot looks again (not a crash:
 * no resume is counted) and any other phase resumes by the ordinary rule. After a reboot what came up decides:
 * the new generation is checked; anything else while going to it has its boot entry reverted; after the reboot
 * back, the previous generation is checked, and anything else ends the deployment: never a third reboot.
 */
function rebootResume(
  journal: Journal,
  deployment: Deployment,
  reboot: RebootState,
  observed: Observation | undefined,
  time: string,
  helpers: RebootHelpers,
): StepResult | null {
  const bootId = observed?.bootId ?? null;
  const rebooted = observed !== undefined && reboot.bootId !== null && bootId !== null && bootId !== reboot.bootId;
  const at = (phase: Deployment['phase'], extra: Partial<Deployment> = {}, state: Partial<RebootState> = {}): Deployment => ({
    ...deployment,
    ...extra,
    phase,
    reboot: { ...reboot, ...(rebooted ? { bootId, reboots: reboot.reboots + 1 } : {}), ...state },
    updatedAt: time,
  });
  const go = (next: Deployment, note?: string): StepResult => ({
    journal: withDeployment(journal, next),
    effect: effectFor(next, true),
    ...(note === undefined ? {} : { note }),
  });
  if (!rebooted) return awaitingReboot(deployment) ? go(at('awaiting-reboot')) : null;
  const booted = observed?.bootedSystem ?? null;
  const cameUp = `the host rebooted and came up on ${booted ?? 'an unknown system'}`;
  const target = deployment.previous === null ? null : (revertPlan(deployment.previous)?.target ?? null);
  switch (reboot.stage) {
    case 'before':
      if (booted === deployment.storePath) {
        return go(at('checking-health', {}, { stage: 'booted', ...NOT_WAITING }), 'the host booted this generation: checking its health');
      }
      if (deployment.phase === 'awaiting-reboot' || deployment.phase === 'rebooting') {
        return go(at('rolling-back', { reason: `${cameUp}, not on this generation` }, NOT_WAITING));
      }
      return go(at(deployment.phase));
    case 'booted':
      if (deployment.phase === 'rolling-back') return go(at('rolling-back'));
      if (booted === deployment.storePath) return go(at(deployment.phase));
      return go(at('rolling-back', { reason: `${cameUp}, not on this generation` }));
    case 'reverted':
      if (target !== null && booted === target) return go(at('checking-health', {}, NOT_WAITING), 'the host is back on the previous generation: checking its health');
      return helpers.ended(journal, at('failed', { reason: `${deployment.reason ?? 'rolled back'}; after the reboot back ${cameUp}, not on the previous generation; not rebooting again` }, NOT_WAITING));
  }
}
