// The effects the core asks the driver to perform, and which phase the journal announces before each. Pure.
import type { Deployment, DeploymentPhase, Journal, Previous } from './journal.js';
import { probationEffectFor, probationPhase, type ProbationEffect } from './probation-effects.js';
import { rebootEffectFor, rebootPhase, type RebootEffect } from './reboot-effects.js';

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
       * After a crash mid-activation. Where systemd runs, the switch's transient unit says whether it still
       * runs (wait) or how it ended; elsewhere switch-to-configuration is re-run (it is idempotent).
       */
      readonly resumed: boolean;
    }
  | { readonly type: 'check-health' }
  | { readonly type: 'rollback'; readonly previous: Previous; readonly activation: Deployment['activation'] }
  | ProbationEffect
  | RebootEffect;

const TERMINAL: ReadonlySet<DeploymentPhase> = new Set(['confirmed', 'rolled-back', 'failed']);

export function isTerminal(phase: DeploymentPhase): boolean {
  return TERMINAL.has(phase);
}

/** Modes that change what the machine boots into: the profile is set only for these. */
export function setsProfile(activation: Deployment['activation']): boolean {
  return activation === 'switch' || activation === 'boot';
}

/** Modes after which the new generation is running, so its health can be checked. */
export function runsNewSystem(activation: Deployment['activation']): boolean {
  return activation === 'switch' || activation === 'test';
}

/** Something to go back to: a profile generation, or (after `test`) the running system. */
export function canRollBack(previous: Previous | null): previous is Previous {
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
    case 'probation':
    case 'stage-boot':
      return probationPhase(effect);
    case 'check-reboot':
    case 'reboot':
    case 'revert-boot':
      return rebootPhase(effect, current);
    default:
      return current;
  }
}

/** What a deployment in `phase` does next; also the resume rule after a crash. */
export function effectFor(deployment: Deployment, resumed: boolean): Effect | null {
  const { storePath, activation, previous } = deployment;
  const reboot = rebootEffectFor(deployment);
  if (reboot !== undefined) return reboot;
  const probation = probationEffectFor(deployment, resumed);
  if (probation !== undefined) return probation;
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

/** Marks the journal with the phase announced for `effect`, to be written before the effect runs. */
export function announce(journal: Journal, effect: Effect, now: Date): Journal {
  const deployment = journal.deployment;
  if (deployment === null) return journal;
  const phase = announcedPhase(effect, deployment.phase);
  if (phase === deployment.phase) return journal;
  return { ...journal, deployment: { ...deployment, phase, updatedAt: now.toISOString() } };
}

export function withDeployment(journal: Journal, deployment: Deployment): Journal {
  return { ...journal, deployment };
}
