// The agent's next-step decision: a pure function of (journal, event, now, policy). No I/O.
import type { Manifest } from '../../shared/manifest.js';
import { boundActivationOutput } from './activation-output.js';
import { holdRealised, windowResume } from './activation-window.js';
import { judgeUnhealthy, type ProbeResult } from './controller-outage.js';
import { recordGenerations } from './generations.js';
import type { HealthResult } from '../../shared/report.js';
import {
  canRollBack,
  effectFor,
  isTerminal,
  runsNewSystem,
  withDeployment,
  type Effect,
} from './effects.js';
import type { Deployment, DeploymentPhase, Journal, Previous } from './journal.js';
import type { WindowSpec } from './maintenance-window.js';
import { operatorRollback, profileAlreadySet, type Observation } from './operator-rollback.js';
import { preflightVerdict, type PreflightMeasure } from './preflight.js';
import { bootBeforeProbation, probationResume, probationStep } from './probation.js';
import { usesProbation } from './probation-effects.js';
import type { RebootVerdict } from './reboot.js';
import { rebootStaged, type RebootPolicy } from './reboot-gate.js';
import { rebootStep, type RebootEvent } from './reboot-policy.js';
import type { GenerationLink } from './rollback-plan.js';

export { announce, announcedPhase, effectFor, isTerminal, withDeployment, type Effect } from './effects.js';
export type { Observation } from './operator-rollback.js';

/** The rollback settings of the config, plus how often a crashed deployment is resumed. */
export interface Policy {
  readonly onActivationFailure: boolean;
  readonly onHealthFailure: boolean;
  readonly onControllerUnreachable: boolean;
  /** After this many resumes of one deployment, the agent stops retrying and rolls back. */
  readonly maxResumes: number;
  /** Bytes the Nix store's filesystem must keep free after the closure is fetched. */
  readonly minFreeBytes?: number;
  /** `switch` runs the new generation with `test` first; profile and boot entry follow a passed health window. */
  readonly probation?: boolean;
  /** `reboot: "when-needed"`: a switch that changes the kernel, initrd or modules is deployed by a reboot. */
  readonly reboot?: RebootPolicy;
  /** `activationWindow`: a realised `switch` or `test` runs only inside it; absent or null: at once. */
  readonly activationWindow?: WindowSpec | null;
}

export type Event =
  | { readonly type: 'manifest'; readonly manifest: Manifest; readonly digest: string; readonly currentSystem: string | null }
  | { readonly type: 'resume'; readonly observed?: Observation }
  | { readonly type: 'preflight-measured'; readonly measure: PreflightMeasure }
  | { readonly type: 'preflight-ok' }
  | { readonly type: 'preflight-failed'; readonly error: string }
  | { readonly type: 'realised'; readonly previous: Previous; readonly bootId?: string | null; readonly reboot?: RebootVerdict }
  | { readonly type: 'realise-failed'; readonly error: string }
  | { readonly type: 'profile-set'; readonly generation: number }
  | { readonly type: 'profile-failed'; readonly error: string }
  /** `output`: what a `dry-activate` printed, kept (bounded) in the journal and the reports. */
  | { readonly type: 'activated'; readonly output?: string }
  | { readonly type: 'activation-failed'; readonly error: string }
  | { readonly type: 'healthy'; readonly results: readonly HealthResult[] }
  | {
      readonly type: 'unhealthy';
      readonly results: readonly HealthResult[];
      readonly reason: string;
      /** True when only controller checks failed; `network` then tells a cut-off host from a controller outage. */
      readonly controllerUnreachable: boolean;
      /** The network probes run when only the controller failed (controller-outage.ts decides with them). */
      readonly network?: readonly ProbeResult[];
    }
  | { readonly type: 'rolled-back'; readonly results: readonly HealthResult[] }
  | { readonly type: 'rollback-failed'; readonly error: string }
  /** Probation passed: the profile is set and the boot entry written. */
  | { readonly type: 'boot-staged'; readonly generation: number }
  /** `tsdeploy-agent rollback`: the profile's generations as they are, newest target chosen here. */
  | {
      readonly type: 'operator-rollback';
      readonly generations: readonly GenerationLink[];
      readonly observed: Observation;
    }
  | RebootEvent;

export interface StepResult {
  readonly journal: Journal;
  /** The effect to perform next; the journal must be written before it runs. */
  readonly effect: Effect | null;
  /** Something the driver should log about this decision (a skipped check, a refused request). */
  readonly note?: string;
}


function failedVersions(journal: Journal, version: number): number[] {
  const list = journal.failedVersions.filter((v) => v !== version);
  list.push(version);
  return list.slice(-100);
}

/**
 * Ends a deployment that will not be retried (failed or rolled back): its version joins failedVersions.
 * An operator's rollback ends without marking anything: the operator, not a health check, chose it.
 */
export function ended(journal: Journal, deployment: Deployment): StepResult {
  const next = withDeployment(journal, deployment);
  if (deployment.trigger === 'operator') return { journal: next, effect: null };
  return { journal: { ...next, failedVersions: failedVersions(journal, deployment.version) }, effect: null };
}

/** Ends a deployment as failed, or starts its rollback when policy allows and there is somewhere to go. */
function failOrRollBack(journal: Journal, deployment: Deployment, reason: string, rollBack: boolean, now: string): StepResult {
  if (rollBack && canRollBack(deployment.previous)) {
    const next: Deployment = { ...deployment, phase: 'rolling-back', reason, updatedAt: now };
    return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
  }
  const why = rollBack
    ? `${reason}; first deployment on this host: no previous generation to roll back to`
    : `${reason}; rollback disabled by configuration`;
  return ended(journal, { ...deployment, phase: 'failed', reason: why, updatedAt: now });
}

/** Applies one event to the journal and says what to do next; a deployment that ends records its generation. */
export function step(journal: Journal, event: Event, now: Date, policy: Policy): StepResult {
  const result = decide(journal, event, now, policy);
  return { ...result, journal: recordGenerations(journal, result.journal) };
}

function decide(journal: Journal, event: Event, now: Date, policy: Policy): StepResult {
  const time = now.toISOString();
  if (event.type === 'manifest') {
    const { manifest } = event;
    const lastAccepted = { version: manifest.version, digest: event.digest };
    if (journal.failedVersions.includes(manifest.version)) {
      return { journal: { ...journal, lastAccepted }, effect: null, note: `version ${manifest.version} failed here before; not retried` };
    }
    const inSync =
      event.currentSystem === manifest.storePath && manifest.activation !== 'dry-activate' && manifest.activation !== 'boot' && !rebootStaged(journal.deployment);
    const deployment: Deployment = {
      version: manifest.version,
      storePath: manifest.storePath,
      activation: manifest.activation,
      phase: inSync ? 'confirmed' : 'accepted',
      previous: null,
      generation: null,
      reason: inSync ? 'already the running system' : null,
      ...(usesProbation(manifest.activation, policy.probation) ? { probation: true } : {}),
      resumes: 0,
      startedAt: time,
      updatedAt: time,
    };
    const next = { ...journal, lastAccepted, deployment };
    return { journal: next, effect: inSync ? null : effectFor(deployment, false) };
  }

  if (event.type === 'operator-rollback') return operatorRollback(journal, event, time);
  const deployment = journal.deployment;
  if (deployment === null || isTerminal(deployment.phase)) return { journal, effect: null };
  const at = (phase: DeploymentPhase, extra: Partial<Deployment> = {}): Deployment => ({
    ...deployment,
    ...extra,
    phase,
    updatedAt: time,
  });
  const rebooting = rebootStep(journal, deployment, event, now, policy, { ended });
  if (rebooting !== null) return rebooting;

  switch (event.type) {
    case 'resume': {
      if (deployment.phase === 'awaiting-window') {
        return windowResume(journal, { ...deployment, ...bootBeforeProbation(deployment, event.observed) }, now, policy.activationWindow ?? null);
      }
      const resumes = deployment.resumes + 1;
      if (resumes > policy.maxResumes && deployment.phase !== 'rolling-back') {
        return failOrRollBack(
          journal,
          { ...deployment, resumes },
          `deployment interrupted ${resumes} times`,
          true,
          time,
        );
      }
      const next = { ...deployment, resumes, ...bootBeforeProbation(deployment, event.observed) };
      const rebooted = event.observed === undefined ? null : probationResume(journal, next, event.observed, time, { ended, failOrRollBack });
      if (rebooted !== null) return rebooted;
      if (event.observed !== undefined && profileAlreadySet(next, event.observed)) {
        const set = { ...next, phase: 'profile-set' as const, generation: event.observed.profile?.generation ?? null, updatedAt: time };
        return { journal: withDeployment(journal, set), effect: effectFor(set, false), note: 'the profile was already set before the interruption' };
      }
      // Nothing of the new system is in place yet: a window that closed while the agent was down holds it again.
      // (Once the profile is set, the next boot runs the new system anyway, so it is activated and checked now.)
      if (next.phase === 'realised') {
        const held = holdRealised(journal, next, now, policy.activationWindow ?? null);
        if (held !== null) return held;
      }
      return { journal: withDeployment(journal, next), effect: effectFor(next, true) };
    }
    case 'preflight-measured': {
      const verdict = preflightVerdict(event.measure, policy.minFreeBytes ?? 0);
      if (!verdict.ok) return ended(journal, at('failed', { reason: verdict.error }));
      const next = at('realising');
      const result = { journal: withDeployment(journal, next), effect: effectFor(next, false) };
      return verdict.note === null ? result : { ...result, note: verdict.note };
    }
    case 'preflight-ok': {
      const next = at('realising');
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'preflight-failed':
    case 'realise-failed':
    case 'profile-failed':
      return ended(journal, at('failed', { reason: event.error }));
    case 'realised': {
      const next = at('realised', { previous: event.previous, ...(event.bootId === undefined || deployment.probation !== true ? {} : { bootId: event.bootId }) });
      const held = holdRealised(journal, next, now, policy.activationWindow ?? null);
      if (held !== null) return held;
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'profile-set': {
      const next = at('profile-set', { generation: event.generation });
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'activated': {
      if (!runsNewSystem(deployment.activation)) {
        const said = event.output === undefined ? null : boundActivationOutput(event.output);
        return { journal: withDeployment(journal, at('confirmed', said === null ? {} : { activationOutput: said })), effect: null };
      }
      const next = at('checking-health');
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'activation-failed':
      if (deployment.activation === 'dry-activate') return ended(journal, at('failed', { reason: `dry activation failed: ${event.error}` }));
      return failOrRollBack(journal, deployment, `activation failed: ${event.error}`, policy.onActivationFailure, time);
    case 'healthy': {
      const staged = probationStep(journal, deployment, event, time);
      if (staged !== null) return staged;
      const lastHealth = { time, ok: true, results: [...event.results] };
      return { journal: { ...withDeployment(journal, at('confirmed', { reason: null })), lastHealth }, effect: null };
    }
    case 'unhealthy': {
      const verdict = judgeUnhealthy(event.results, event.reason, event.controllerUnreachable, event.network);
      if (verdict.kind === 'controller-outage') return { ...step(journal, { type: 'healthy', results: verdict.results }, now, policy), note: verdict.note };
      const lastHealth = { time, ok: false, results: [...verdict.results] };
      const rollBack = verdict.kind === 'cut-off' ? policy.onControllerUnreachable : policy.onHealthFailure;
      return failOrRollBack({ ...journal, lastHealth }, deployment, verdict.reason, rollBack, time);
    }
    case 'boot-staged':
      return probationStep(journal, deployment, event, time) ?? { journal, effect: null };
    case 'rolled-back':
      return ended({ ...journal, lastHealth: { time, ok: true, results: [...event.results] } }, at('rolled-back'));
    case 'rollback-failed':
      return ended(journal, at('failed', { reason: `${deployment.reason ?? 'deployment failed'}; rollback failed: ${event.error}` }));
    default:
      return { journal, effect: null };
  }
}

