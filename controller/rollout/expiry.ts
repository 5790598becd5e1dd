// Whether signed manifests outlive the rollout meant to carry them: a wave released after they expire is refused. Pure.
import { planWaves } from './plan.js';
import type { RolloutPolicy } from './policy.js';

/** The longest a rollout of these hosts may take before its last wave is out: each wave's deadline plus its bake time. */
export function plannedRolloutMs(hosts: readonly string[], policy: RolloutPolicy): { waves: number; ms: number } {
  const waves = planWaves(hosts, policy).length;
  return { waves, ms: waves * (policy.deadlineSeconds + policy.bakeSeconds) * 1000 };
}

function hours(ms: number): string {
  return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
}

/** A one-line warning when the manifests expire before the rollout's planned duration has passed, else null. */
export function expiryWarning(expiresInMs: number, hosts: readonly string[], policy: RolloutPolicy): string | null {
  const planned = plannedRolloutMs(hosts, policy);
  if (expiresInMs > planned.ms) return null;
  return `warning: the manifests expire in ${hours(expiresInMs)}, but the rollout's ${planned.waves} waves × (${policy.deadlineSeconds} s deadline + ${policy.bakeSeconds} s bake) may take ${hours(planned.ms)}: later waves would be refused as expired; pass a longer --expires-in`;
}
