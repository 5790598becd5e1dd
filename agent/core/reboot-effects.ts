// The effects of a deployment that goes through a reboot, and which of them each phase does next. Pure.
import type { Deployment, DeploymentPhase, Previous } from './journal.js';

export type RebootEffect =
  /** Looks at the inhibitor locks (and the boot id); the core then decides with the window and the delay. */
  | { readonly type: 'check-reboot' }
  /** `systemctl reboot`. */
  | { readonly type: 'reboot' }
  /** The previous generation becomes the boot default again (profile and `switch-to-configuration boot`); nothing runs. */
  | { readonly type: 'revert-boot'; readonly previous: Previous };

export type RebootEffectType = RebootEffect['type'];

/** The phase announced before a reboot effect; `check-reboot` keeps the phase it is in. */
export function rebootPhase(effect: RebootEffect, current: DeploymentPhase): DeploymentPhase {
  switch (effect.type) {
    case 'check-reboot':
      return current;
    case 'reboot':
      return 'rebooting';
    case 'revert-boot':
      return 'rolling-back';
  }
}

/**
 * The next effect of a deployment on the reboot path, or undefined where the ordinary rule applies
 * (checking-health runs the health window, against whatever system runs now). `staging-boot` reuses
 * probation's `stage-boot`: profile, then `switch-to-configuration boot`, without ever running the generation.
 */
export function rebootEffectFor(deployment: Deployment): RebootEffect | { readonly type: 'stage-boot'; readonly storePath: string; readonly previous: Previous } | undefined {
  if (deployment.reboot === undefined) return undefined;
  const { previous, storePath } = deployment;
  switch (deployment.phase) {
    case 'staging-boot':
      return previous === null ? undefined : { type: 'stage-boot', storePath, previous };
    case 'awaiting-reboot':
      return { type: 'check-reboot' };
    case 'rebooting':
      return { type: 'reboot' };
    case 'rolling-back':
      return previous === null ? undefined : { type: 'revert-boot', previous };
    default:
      return undefined;
  }
}

/** Where a reverted boot entry points: the system that ran (and was checked) before the deployment. */
export interface RevertPlan {
  readonly target: string;
  /** The profile generation to switch back to; null when none holds the target and `nix-env --set` makes one. */
  readonly generation: number | null;
}

/**
 * The running system before the deployment is what the health window passed before the boot entry was staged, so
 * it is the one to boot again: by its recorded generation when the profile named it, else by a new generation of it
 * (a boot default staged earlier and never booted is not a place to go back to).
 */
export function revertPlan(previous: Previous): RevertPlan | null {
  const target = previous.currentSystem ?? previous.path;
  if (target === null) return null;
  return { target, generation: previous.generation !== null && previous.path === target ? previous.generation : null };
}
