// The agent's next-step decision: a pure function of (journal, event, now, policy). No I/O.
import type { Manifest } from '../shared/manifest.js';
import type { HealthResult } from '../shared/report.js';
import type { Deployment, DeploymentPhase, Journal, Previous } from './journal.js';

/** The rollback settings of the config, plus how often a crashed deployment is resumed. */
export interface Policy {
  readonly onActivationFailure: boolean;
  readonly onHealthFailure: boolean;
  readonly onControllerUnreachable: boolean;
  /** After this many resumes of one deployment, the agent stops retrying and rolls back. */
  readonly maxResumes: number;
}

/** One side effect for the driver to perform; its result comes back as an Event. */
export type Effect =
  | { readonly type: 'preflight'; readonly storePath: string }
  | { readonly type: 'realise'; readonly storePath: string }
  | { readonly type: 'set-profile'; readonly storePath: string; readonly previous: Previous }
  | {
      readonly type: 'activate';
      readonly storePath: string;
      readonly activation: Deployment['activation'];
      /**
       * After a crash mid-activation. switch-to-configuration is re-run: it is idempotent, and its
       * completion cannot be verified (current-system changes before services start).
       */
      readonly resumed: boolean;
    }
  | { readonly type: 'check-health' }
  | { readonly type: 'rollback'; readonly previous: Previous; readonly activation: Deployment['activation'] };

export type Event =
  | { readonly type: 'manifest'; readonly manifest: Manifest; readonly digest: string; readonly currentSystem: string | null }
  | { readonly type: 'resume' }
  | { readonly type: 'preflight-ok' }
  | { readonly type: 'preflight-failed'; readonly error: string }
  | { readonly type: 'realised'; readonly previous: Previous }
  | { readonly type: 'realise-failed'; readonly error: string }
  | { readonly type: 'profile-set'; readonly generation: number }
  | { readonly type: 'profile-failed'; readonly error: string }
  | { readonly type: 'activated' }
  | { readonly type: 'activation-failed'; readonly error: string }
  | { readonly type: 'healthy'; readonly results: readonly HealthResult[] }
  | {
      readonly type: 'unhealthy';
      readonly results: readonly HealthResult[];
      readonly reason: string;
      /** True when only the controller check failed: the generation cut the host off. */
      readonly controllerUnreachable: boolean;
    }
  | { readonly type: 'rolled-back'; readonly results: readonly HealthResult[] }
  | { readonly type: 'rollback-failed'; readonly error: string };

export interface StepResult {
  readonly journal: Journal;
  /** The effect to perform next; the journal must be written before it runs. */
  readonly effect: Effect | null;
}

const TERMINAL: ReadonlySet<DeploymentPhase> = new Set(['confirmed', 'rolled-back', 'failed']);

export function isTerminal(phase: DeploymentPhase): boolean {
  return TERMINAL.has(phase);
}

/** Modes that change what the machine boots into: the profile is set only for these. */
function setsProfile(activation: Deployment['activation']): boolean {
  return activation === 'switch' || activation === 'boot';
}

/** Modes after which the new generation is running, so its health can be checked. */
function runsNewSystem(activation: Deployment['activation']): boolean {
  return activation === 'switch' || activation === 'test';
}

/** Something to go back to: a profile generation, or (after `test`) the running system. */
function canRollBack(previous: Previous | null): previous is Previous {
  return previous !== null && (previous.generation !== null || previous.currentSystem !== null);
}

/** The phase written to the journal before `effect` runs, so a crash shows what was under way. */
export function announcedPhase(effect: Effect, current: DeploymentPhase): DeploymentPhase {
  switch (effect.type) {
    case 'preflight':
      return 'accepted';
    case 'realise':
      return 'realising';
    case 'set-profile':
      return 'realised';
    case 'activate':
      return 'activating';
    case 'check-health':
      return 'checking-health';
    case 'rollback':
      return 'rolling-back';
    default:
      return current;
  }
}

/** What a deployment in `phase` does next; also the resume rule after a crash. */
export function effectFor(deployment: Deployment, resumed: boolean): Effect | null {
  const { storePath, activation, previous } = deployment;
  switch (deployment.phase) {
    case 'accepted':
      return { type: 'preflight', storePath };
    case 'realising':
      return { type: 'realise', storePath };
    case 'realised':
      if (setsProfile(activation) && previous !== null) return { type: 'set-profile', storePath, previous };
      if (previous === null) return { type: 'realise', storePath };
      return { type: 'activate', storePath, activation, resumed: false };
    case 'profile-set':
      return { type: 'activate', storePath, activation, resumed: false };
    case 'activating':
      return { type: 'activate', storePath, activation, resumed };
    case 'checking-health':
      return { type: 'check-health' };
    case 'rolling-back':
      return previous !== null ? { type: 'rollback', previous, activation } : null;
    default:
      return null;
  }
}

function withDeployment(journal: Journal, deployment: Deployment): Journal {
  return { ...journal, deployment };
}

function failedVersions(journal: Journal, version: number): number[] {
  const list = journal.failedVersions.filter((v) => v !== version);
  list.push(version);
  return list.slice(-100);
}

/** Ends a deployment that will not be retried (failed or rolled back): its version joins failedVersions. */
function ended(journal: Journal, deployment: Deployment): StepResult {
  return { journal: { ...withDeployment(journal, deployment), failedVersions: failedVersions(journal, deployment.version) }, effect: null };
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

/** Applies one event to the journal and says what to do next. */
export function step(journal: Journal, event: Event, now: Date, policy: Policy): StepResult {
  const time = now.toISOString();
  if (event.type === 'manifest') {
    const { manifest } = event;
    const lastAccepted = { version: manifest.version, digest: event.digest };
    const inSync =
      event.currentSystem === manifest.storePath && manifest.activation !== 'dry-activate' && manifest.activation !== 'boot';
    const deployment: Deployment = {
      version: manifest.version,
      storePath: manifest.storePath,
      activation: manifest.activation,
      phase: inSync ? 'confirmed' : 'accepted',
      previous: null,
      generation: null,
      reason: inSync ? 'already the running system' : null,
      resumes: 0,
      startedAt: time,
      updatedAt: time,
    };
    const next = { ...journal, lastAccepted, deployment };
    return { journal: next, effect: inSync ? null : effectFor(deployment, false) };
  }

  const deployment = journal.deployment;
  if (deployment === null || isTerminal(deployment.phase)) return { journal, effect: null };
  const at = (phase: DeploymentPhase, extra: Partial<Deployment> = {}): Deployment => ({
    ...deployment,
    ...extra,
    phase,
    updatedAt: time,
  });

  switch (event.type) {
    case 'resume': {
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
      const next = { ...deployment, resumes };
      return { journal: withDeployment(journal, next), effect: effectFor(next, true) };
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
      const next = at('realised', { previous: event.previous });
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'profile-set': {
      const next = at('profile-set', { generation: event.generation });
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'activated': {
      if (!runsNewSystem(deployment.activation)) {
        return { journal: withDeployment(journal, at('confirmed')), effect: null };
      }
      const next = at('checking-health');
      return { journal: withDeployment(journal, next), effect: effectFor(next, false) };
    }
    case 'activation-failed':
      if (deployment.activation === 'dry-activate') return ended(journal, at('failed', { reason: `dry activation failed: ${event.error}` }));
      return failOrRollBack(journal, deployment, `activation failed: ${event.error}`, policy.onActivationFailure, time);
    case 'healthy': {
      const lastHealth = { time, ok: true, results: [...event.results] };
      return { journal: { ...withDeployment(journal, at('confirmed', { reason: null })), lastHealth }, effect: null };
    }
    case 'unhealthy': {
      const lastHealth = { time, ok: false, results: [...event.results] };
      const rollBack = event.controllerUnreachable ? policy.onControllerUnreachable : policy.onHealthFailure;
      return failOrRollBack({ ...journal, lastHealth }, deployment, event.reason, rollBack, time);
    }
    case 'rolled-back':
      return ended({ ...journal, lastHealth: { time, ok: true, results: [...event.results] } }, at('rolled-back'));
    case 'rollback-failed':
      return ended(journal, at('failed', { reason: `${deployment.reason ?? 'deployment failed'}; rollback failed: ${event.error}` }));
    default:
      return { journal, effect: null };
  }
}

/** Marks the journal with the phase announced for `effect`, to be written before the effect runs. */
export function announce(journal: Journal, effect: Effect, now: Date): Journal {
  const deployment = journal.deployment;
  if (deployment === null) return journal;
  const phase = announcedPhase(effect, deployment.phase);
  if (phase === deployment.phase) return journal;
  return { ...journal, deployment: { ...deployment, phase, updatedAt: now.toISOString() } };
}
