// Decisions made on what the driver observed: a profile switch that already happened, and an operator's rollback. Pure.
import { effectFor, isTerminal, setsProfile, withDeployment } from './effects.js';
import type { Deployment, Journal } from './journal.js';
import { operatorRollbackTarget, type GenerationLink } from './rollback-plan.js';
import type { StepResult } from './step.js';

/** What the driver saw of the host when it resumed: the profile, and the running and booted systems. */
export interface Observation {
  readonly profile: { readonly generation: number; readonly path: string } | null;
  readonly currentSystem: string | null;
  readonly bootedSystem: string | null;
  /** This boot's id (/proc/sys/kernel/random/boot_id): another one than recorded means the host rebooted. */
  readonly bootId?: string | null;
}

/**
 * Set-profile was interrupted after `nix-env --set` ran but before the journal said so: the profile
 * already points at the new system in a generation newer than the recorded one. Running it again
 * would make a second generation of the same system.
 */
export function profileAlreadySet(deployment: Deployment, observed: Observation): boolean {
  const profile = observed.profile;
  if (deployment.phase !== 'realised' || profile === null || deployment.previous === null) return false;
  if (!setsProfile(deployment.activation)) return false;
  const before = deployment.previous.generation;
  return profile.path === deployment.storePath && (before === null || profile.generation > before);
}

/**
 * An operator's rollback goes through the journal like any deployment, so an interrupted one is
 * resumed. It targets the newest older confirmed generation (rollback-plan.ts), never a failed one.
 */
export function operatorRollback(
  journal: Journal,
  event: { readonly generations: readonly GenerationLink[]; readonly observed: Observation },
  time: string,
): StepResult {
  const running = journal.deployment;
  if (running !== null && !isTerminal(running.phase)) {
    return { journal, effect: null, note: `a deployment of version ${running.version} is in progress (${running.phase}); try again when it ends` };
  }
  const profile = event.observed.profile;
  if (profile === null) return { journal, effect: null, note: 'the system profile has no generation' };
  const target = operatorRollbackTarget(event.generations, profile.generation, journal);
  if (target === null) return { journal, effect: null, note: `no generation before ${profile.generation} to return to` };
  const version = running?.version ?? journal.lastAccepted?.version ?? null;
  const deployment: Deployment = {
    trigger: 'operator',
    version: version ?? 0,
    storePath: profile.path,
    activation: 'switch',
    phase: 'rolling-back',
    previous: { generation: target.generation, path: target.path, currentSystem: event.observed.currentSystem },
    generation: profile.generation,
    reason: 'manual rollback by operator',
    resumes: 0,
    startedAt: time,
    updatedAt: time,
  };
  return { journal: withDeployment(journal, deployment), effect: effectFor(deployment, false) };
}
