// Which hosts go in which wave: the canary first, then groups in their order, then waves of the policy's size. Pure.
import { UserError } from '../../shared/errors.js';
import { resolveAmount, type Amount, type RolloutPolicy } from './policy.js';

export class RolloutPlanError extends UserError {
  override name = 'RolloutPlanError' as const;
}

/** Splits `hosts` into waves; every host is in exactly one, the canary wave first. */
export function planWaves(hosts: readonly string[], policy: RolloutPolicy): string[][] {
  const remaining = [...new Set(hosts)].sort();
  const take = (names: readonly string[]): string[] => {
    const taken = names.filter((name) => remaining.includes(name));
    for (const name of taken) remaining.splice(remaining.indexOf(name), 1);
    return taken;
  };
  const waves: string[][] = [];
  if (Array.isArray(policy.canary)) {
    const unknown = policy.canary.filter((name) => !hosts.includes(name));
    if (unknown.length > 0) throw new RolloutPlanError(`canary host(s) not in the release: ${unknown.join(', ')}`);
    waves.push(take(policy.canary));
  } else {
    const count = resolveAmount(policy.canary, remaining.length);
    if (count > 0) waves.push(take(remaining.slice(0, count)));
  }
  const total = remaining.length;
  const amountAt = (index: number): Amount =>
    Array.isArray(policy.waves) ? (policy.waves[Math.min(index, policy.waves.length - 1)] ?? '100%') : policy.waves;
  const pushSized = (pool: string[]) => {
    let index = 0;
    while (pool.length > 0) {
      const size = Math.max(1, resolveAmount(amountAt(index), total));
      waves.push(take(pool.splice(0, size)));
      index += 1;
    }
  };
  for (const members of Object.values(policy.groups ?? {})) pushSized(remaining.filter((name) => members.includes(name)));
  pushSized([...remaining]);
  return waves.filter((wave) => wave.length > 0);
}
