// When the next wave goes out, and when a rollout halts: a pure function of the rollout, what each host
// last reported, and the time. The controller runs it on every accepted report and on a timer.
import { resolveAmount, type Rollout, type Wave } from './policy.js';

/** What the controller knows of a host for this decision: its last accepted report, if any. */
export interface HostObservation {
  readonly manifestVersion: number | null;
  readonly outcome: 'in-progress' | 'success' | 'failure' | 'rolled-back' | 'rejected';
  readonly phase: string;
  readonly receivedAt: Date;
}

export type HostVerdict = 'confirmed' | 'pending' | 'unhealthy';

export interface WaveProgress {
  readonly index: number;
  readonly confirmed: readonly string[];
  readonly pending: readonly string[];
  readonly unhealthy: readonly { readonly host: string; readonly why: string }[];
}

export interface Advance {
  readonly rollout: Rollout;
  /** Hosts whose held manifests the controller now serves. */
  readonly release: readonly string[];
  /** The wave being watched (or null when none is out). */
  readonly progress: WaveProgress | null;
}

/** How one host stands in its wave: confirmed on this rollout's version, still going, or unhealthy. */
export function judgeHost(
  version: number,
  observation: HostObservation | null,
  releasedAt: Date,
  deadlineMs: number,
  now: Date,
): { verdict: HostVerdict; why: string } {
  const current = observation !== null && observation.manifestVersion === version && observation.receivedAt >= releasedAt ? observation : null;
  if (current !== null) {
    if (current.outcome === 'success' && current.phase !== 'idle') return { verdict: 'confirmed', why: current.phase };
    if (current.outcome === 'rolled-back' || current.outcome === 'failure' || current.outcome === 'rejected') {
      return { verdict: 'unhealthy', why: `${current.outcome} (${current.phase})` };
    }
  }
  if (now.getTime() - releasedAt.getTime() > deadlineMs) return { verdict: 'unhealthy', why: 'no confirmation before the deadline' };
  return { verdict: 'pending', why: current?.phase ?? 'waiting for the host' };
}

export function waveProgress(rollout: Rollout, index: number, observe: (host: string) => HostObservation | null, now: Date): WaveProgress {
  const wave = rollout.waves[index] as Wave;
  const releasedAt = new Date(wave.releasedAt ?? now.toISOString());
  const confirmed: string[] = [];
  const pending: string[] = [];
  const unhealthy: { host: string; why: string }[] = [];
  for (const host of wave.hosts) {
    if (rollout.accepted.includes(host)) {
      confirmed.push(host);
      continue;
    }
    const { verdict, why } = judgeHost(rollout.versions[host] ?? 0, observe(host), releasedAt, rollout.policy.deadlineSeconds * 1000, now);
    if (verdict === 'confirmed') confirmed.push(host);
    else if (verdict === 'pending') pending.push(host);
    else unhealthy.push({ host, why });
  }
  return { index, confirmed, pending, unhealthy };
}

/**
 * Moves a running rollout on: releases the first wave not yet out; halts when a wave has more unhealthy
 * hosts than `maxUnhealthy` allows; completes a wave whose hosts are all confirmed once its bake time has
 * passed, and releases the next in the same step. Paused, halted, aborted and completed rollouts stay put.
 */
export function advanceRollout(rollout: Rollout, observe: (host: string) => HostObservation | null, now: Date): Advance {
  const time = now.toISOString();
  let current: Rollout = rollout;
  const release: string[] = [];
  let progress: WaveProgress | null = null;
  for (let guard = 0; guard <= rollout.waves.length && current.state === 'running'; guard += 1) {
    const index = current.waves.findIndex((wave) => wave.completedAt === null);
    if (index === -1) {
      current = { ...current, state: 'completed', updatedAt: time };
      break;
    }
    const wave = current.waves[index] as Wave;
    if (wave.releasedAt === null) {
      current = withWave(current, index, { ...wave, releasedAt: time }, time);
      release.push(...wave.hosts);
      progress = waveProgress(current, index, observe, now);
      break;
    }
    progress = waveProgress(current, index, observe, now);
    const allowed = resolveAmount(current.policy.maxUnhealthy, wave.hosts.length);
    if (progress.unhealthy.length > allowed) {
      const names = progress.unhealthy.map((u) => `${u.host}: ${u.why}`).join(', ');
      const reason = `wave ${index + 1}: ${progress.unhealthy.length} unhealthy (at most ${allowed}): ${names}`;
      current = { ...current, state: 'halted', reason, haltedBy: progress.unhealthy.map((u) => u.host), updatedAt: time };
      break;
    }
    const baked = now.getTime() - Date.parse(wave.releasedAt) >= current.policy.bakeSeconds * 1000;
    if (progress.pending.length > 0 || !baked) break;
    current = withWave(current, index, { ...wave, completedAt: time }, time);
  }
  return { rollout: current, release, progress };
}

function withWave(rollout: Rollout, index: number, wave: Wave, time: string): Rollout {
  return { ...rollout, waves: rollout.waves.map((w, i) => (i === index ? wave : w)), updatedAt: time };
}
