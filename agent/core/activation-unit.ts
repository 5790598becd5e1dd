// How switch-to-configuration runs: in its own transient systemd unit when systemd runs, so it outlives the
// agent; what that unit's state means on (re)entry; what to do when it overruns its time limit. No I/O.
import type { Activation } from '../../shared/manifest.js';

/**
 * The transient unit's name. It is nixos-rebuild-ng's, on purpose: systemd refuses a second unit of one name,
 * so a hand-run `nixos-rebuild switch` and the agent can never activate at the same time.
 */
export const ACTIVATION_UNIT = 'nixos-rebuild-switch-to-configuration';

/** Marks the units this agent started, so one left by a hand-run nixos-rebuild is never taken for ours. */
export const ACTIVATION_DESCRIPTION_PREFIX = 'tsdeploy activation:';

export type ActivationPath = 'transient-unit' | 'direct';

/**
 * A switch that changes the system runs in a transient unit when systemd is PID 1 (/run/systemd/system exists);
 * `dry-activate` changes nothing and its output is wanted, so it runs directly, as does everything on a host
 * without systemd.
 */
export function activationPath(systemdRunning: boolean, action: Activation): ActivationPath {
  return systemdRunning && action !== 'dry-activate' ? 'transient-unit' : 'direct';
}

export function activationDescription(systemPath: string, action: Activation): string {
  return `${ACTIVATION_DESCRIPTION_PREFIX} ${systemPath} ${action}`;
}

/**
 * `systemd-run` argv for one activation. RemainAfterExit keeps the finished unit, and with it its Result and
 * exit status, until the agent has read them: `--collect` would drop them, and an agent restarted mid-switch
 * could then not tell a switch that finished from one that never ran. The agent stops the unit once it has read it.
 */
export function transientActivationArgs(systemPath: string, action: Activation): [string, ...string[]] {
  return [
    'systemd-run',
    `--unit=${ACTIVATION_UNIT}`,
    `--description=${activationDescription(systemPath, action)}`,
    '--service-type=exec',
    '--property=RemainAfterExit=yes',
    '--no-ask-password',
    '--quiet',
    '--',
    `${systemPath}/bin/switch-to-configuration`,
    action,
  ];
}

export const UNIT_PROPERTIES = ['LoadState', 'ActiveState', 'SubState', 'Result', 'ExecMainCode', 'ExecMainStatus', 'Description'] as const;

export function showUnitArgs(): [string, ...string[]] {
  return ['systemctl', 'show', `${ACTIVATION_UNIT}.service`, `--property=${UNIT_PROPERTIES.join(',')}`];
}

/** Removes the finished unit (active-exited or failed) so the name is free for the next activation. */
export function clearUnitArgs(): [string, ...string[]][] {
  return [
    ['systemctl', 'stop', `${ACTIVATION_UNIT}.service`],
    ['systemctl', 'reset-failed', `${ACTIVATION_UNIT}.service`],
  ];
}

export interface UnitStatus {
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly result: string;
  readonly execMainStatus: number | null;
  readonly description: string;
}

/** Parses `systemctl show --property=…` output (KEY=value lines). */
export function parseUnitShow(text: string): UnitStatus {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  const status = Number(values.get('ExecMainStatus') ?? '');
  return {
    loadState: values.get('LoadState') ?? 'not-found',
    activeState: values.get('ActiveState') ?? 'inactive',
    subState: values.get('SubState') ?? 'dead',
    result: values.get('Result') ?? '',
    execMainStatus: values.has('ExecMainStatus') && Number.isInteger(status) ? status : null,
    description: values.get('Description') ?? '',
  };
}

/** What the unit's state means for the activation of `systemPath` with `action`. */
export type UnitVerdict =
  /** No unit: start one (the switch never started, or it finished and was already read and cleared). */
  | { readonly kind: 'absent' }
  /** Ours and still running: wait for it, never start a second switch. */
  | { readonly kind: 'running' }
  | { readonly kind: 'succeeded' }
  | { readonly kind: 'failed'; readonly detail: string }
  /** Another activation holds the name (a hand-run nixos-rebuild, or an older one of ours): wait while it runs. */
  | { readonly kind: 'foreign-running'; readonly description: string }
  /** Another activation's finished unit: clear it, then start ours. */
  | { readonly kind: 'foreign-finished'; readonly description: string };

export function judgeUnit(status: UnitStatus, systemPath: string, action: Activation): UnitVerdict {
  // Never started, or finished and already stopped by the agent: systemd drops an inactive transient unit.
  if (status.loadState === 'not-found' || status.activeState === 'inactive') return { kind: 'absent' };
  const running = status.activeState === 'activating' || status.activeState === 'deactivating' || (status.activeState === 'active' && status.subState !== 'exited');
  const ours = status.description === activationDescription(systemPath, action);
  if (!ours) return running ? { kind: 'foreign-running', description: status.description } : { kind: 'foreign-finished', description: status.description };
  if (running) return { kind: 'running' };
  if (status.activeState === 'active' && status.result === 'success' && (status.execMainStatus ?? 0) === 0) return { kind: 'succeeded' };
  const exit = status.execMainStatus === null ? '' : ` (exit status ${status.execMainStatus})`;
  return { kind: 'failed', detail: `switch-to-configuration ${action} failed: unit result ${status.result || status.activeState}${exit}` };
}

/**
 * A switch that failed or vanished (its unit stopped) while the host is shutting down (`systemctl
 * is-system-running` says "stopping") was stopped by the shutdown, not failed: the next boot decides. The
 * agent must not take it for a failure and start a rollback that the shutdown would cut short.
 */
export function stoppedByShutdown(outcome: 'failed' | 'vanished', systemState: string): boolean {
  return (outcome === 'failed' || outcome === 'vanished') && systemState.trim() === 'stopping';
}

/** What the agent does when an activation is still running at its time limit. */
export type OverrunPolicy = 'wait' | 'stop';

export type OverrunDecision =
  | { readonly kind: 'keep-waiting' }
  /** Say so once per time limit passed, and keep waiting: a switch is never killed half-way unannounced. */
  | { readonly kind: 'report-and-wait'; readonly message: string }
  | { readonly kind: 'stop'; readonly message: string };

/** Decides, each time the agent looks at a running activation, whether its time limit changes anything. */
export function overrunDecision(elapsedMs: number, limitMs: number, reportedTimes: number, policy: OverrunPolicy): OverrunDecision {
  const passed = Math.floor(elapsedMs / limitMs);
  if (passed <= reportedTimes) return { kind: 'keep-waiting' };
  const seconds = Math.round(limitMs / 1000);
  if (policy === 'stop') {
    return { kind: 'stop', message: `activation ran past its time limit of ${seconds}s; stopped by policy (timeouts.onActivationOverrun "stop")` };
  }
  return { kind: 'report-and-wait', message: `activation still running after ${seconds * passed}s (time limit ${seconds}s); waiting for it to finish (timeouts.onActivationOverrun "wait")` };
}
