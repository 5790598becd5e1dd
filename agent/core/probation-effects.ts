// Probation's effects: a `switch` deployment first runs its generation with `test`, and only a healthy one
// becomes the profile and the boot entry. Which effect each probation phase does next. Pure.
import type { Deployment, DeploymentPhase, Previous } from './journal.js';

export type ProbationEffect =
  /** `switch-to-configuration test` of the new generation: it runs, but the boot default is unchanged. */
  | { readonly type: 'probation'; readonly storePath: string; readonly resumed: boolean }
  /** `nix-env --set` of the profile, then `switch-to-configuration boot`: both repeat safely after a crash. */
  | { readonly type: 'stage-boot'; readonly storePath: string; readonly previous: Previous };

/** Whether a deployment of `activation` goes through probation under the configured `probation`. */
export function usesProbation(activation: Deployment['activation'], probation: boolean | undefined): boolean {
  return probation === true && activation === 'switch';
}

/** The phase announced before a probation effect. */
export function probationPhase(effect: ProbationEffect): DeploymentPhase {
  return effect.type === 'probation' ? 'probation' : 'staging-boot';
}

/**
 * The next effect of a deployment in probation, or undefined where the ordinary rule applies
 * (accepted, realising, checking-health, rolling-back). After `realised` comes the `test` activation,
 * never the profile: the profile is set only once health passed.
 */
export function probationEffectFor(deployment: Deployment, resumed: boolean): ProbationEffect | undefined {
  if (deployment.probation !== true) return undefined;
  const { storePath, previous } = deployment;
  switch (deployment.phase) {
    case 'realised':
      return previous === null ? undefined : { type: 'probation', storePath, resumed: false };
    case 'probation':
      return { type: 'probation', storePath, resumed };
    case 'staging-boot':
      return previous === null ? undefined : { type: 'stage-boot', storePath, previous };
    default:
      return undefined;
  }
}
