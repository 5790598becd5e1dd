// The operator's controls over a rollout, and its creation from a release. Pure.
import { UserError } from '../../shared/errors.js';
import { planWaves } from './plan.js';
import type { Rollout, RolloutPolicy } from './policy.js';

export class RolloutStateError extends UserError {
  override name = 'RolloutStateError' as const;
}

export function createRollout(
  id: string,
  versions: Readonly<Record<string, number>>,
  policy: RolloutPolicy,
  now: Date,
  previous: Readonly<Record<string, string>> = {},
): Rollout {
  const time = now.toISOString();
  const waves = planWaves(Object.keys(versions), policy).map((hosts) => ({ hosts, releasedAt: null, completedAt: null }));
  return { id, createdAt: time, policy, versions: { ...versions }, waves, state: 'running', reason: null, haltedBy: [], accepted: [], previous: { ...previous }, updatedAt: time };
}

/** Pause holds every wave not yet released; resume lets the rollout go on; abort releases nothing more, ever. */
export function controlRollout(rollout: Rollout, action: 'pause' | 'resume' | 'abort', now: Date): Rollout {
  const time = now.toISOString();
  const finished = rollout.state === 'completed' || rollout.state === 'aborted';
  if (finished) throw new RolloutStateError(`rollout ${rollout.id} is ${rollout.state}; nothing to ${action}`);
  switch (action) {
    case 'pause':
      if (rollout.state !== 'running') throw new RolloutStateError(`rollout ${rollout.id} is ${rollout.state}, not running`);
      return { ...rollout, state: 'paused', updatedAt: time };
    case 'resume':
      if (rollout.state === 'running') throw new RolloutStateError(`rollout ${rollout.id} is already running`);
      // Resuming a halted rollout is the operator's decision to go on despite the unhealthy hosts.
      return { ...rollout, state: 'running', reason: null, accepted: [...new Set([...rollout.accepted, ...rollout.haltedBy])], haltedBy: [], updatedAt: time };
    case 'abort':
      return { ...rollout, state: 'aborted', reason: rollout.reason ?? 'aborted by the operator', updatedAt: time };
  }
}

/** Hosts that never received this rollout's manifest: their held manifests are dropped on abort. */
export function unreleasedHosts(rollout: Rollout): string[] {
  return rollout.waves.filter((wave) => wave.releasedAt === null).flatMap((wave) => wave.hosts);
}

/** Hosts that were given this rollout's manifest (their wave was released), each with the path it ran before, if known. */
export function revertTargets(rollout: Rollout): { revert: Array<{ host: string; previous: string; version: number }>; unknown: string[] } {
  const released = rollout.waves.filter((wave) => wave.releasedAt !== null).flatMap((wave) => wave.hosts);
  const revert: Array<{ host: string; previous: string; version: number }> = [];
  const unknown: string[] = [];
  for (const host of released) {
    const previous = rollout.previous[host];
    if (previous === undefined) unknown.push(host);
    else revert.push({ host, previous, version: rollout.versions[host] ?? 0 });
  }
  return { revert, unknown };
}
