// When a deployment on the reboot path may reboot (the maintenance window, the random delay, inhibitor locks),
// and what reports say of it. Pure.
import type { Inhibitor, RebootReport } from '../../shared/report.js';
import type { Deployment } from './journal.js';
import { nextOpening, windowAt, type WindowSpec } from './maintenance-window.js';

export type RebootMode = 'never' | 'when-needed';

/** The config's reboot settings, with the window's expression already parsed. */
export interface RebootPolicy {
  readonly mode: RebootMode;
  /** Null: any time is in the window. */
  readonly window: WindowSpec | null;
  /** Upper bound of the random delay drawn once per window, so a fleet does not reboot at once. */
  readonly delayMs: number;
}

export const NO_REBOOTS: RebootPolicy = { mode: 'never', window: null, delayMs: 0 };

export interface GateInput {
  readonly now: Date;
  readonly policy: RebootPolicy;
  /** The reboot back to the previous generation: neither the window nor the delay holds it, only inhibitor locks. */
  readonly urgent: boolean;
  /** The delay's end drawn earlier, if any. */
  readonly notBefore: Date | null;
  readonly random: number;
  /** Null when they could not be listed. */
  readonly inhibitors: readonly Inhibitor[] | null;
  readonly inhibitorError: string | null;
}

export type GateDecision =
  | { readonly kind: 'reboot' }
  | {
      readonly kind: 'wait';
      readonly reason: string;
      /** When to look again; null: at the next poll. */
      readonly until: Date | null;
      readonly notBefore: Date | null;
      readonly inhibitors: readonly Inhibitor[];
    };

/** A lock that holds a reboot: any shutdown lock in `block` mode, and any lock of a switch-to-configuration or nixos-rebuild. */
export function blocksReboot(inhibitor: Inhibitor): boolean {
  if (/switch-to-configuration|nixos-rebuild/i.test(`${inhibitor.who} ${inhibitor.why}`)) return true;
  return inhibitor.mode === 'block' && inhibitor.what.split(':').includes('shutdown');
}

export function describeInhibitor(inhibitor: Inhibitor): string {
  return `"${inhibitor.who}" (${inhibitor.what}, ${inhibitor.mode}${inhibitor.why === '' ? '' : `: ${inhibitor.why}`})`;
}

/**
 * The window first (outside it: wait for its opening), then the random delay, drawn once per window and kept
 * inside it, then the inhibitor locks (held, or not listable: wait and look again at the next poll).
 */
export function rebootGate(input: GateInput): GateDecision {
  const { now, policy } = input;
  let notBefore = input.notBefore;
  const wait = (reason: string, until: Date | null, inhibitors: readonly Inhibitor[] = []): GateDecision => ({ kind: 'wait', reason, until, notBefore, inhibitors });
  if (!input.urgent) {
    let room = policy.delayMs;
    if (policy.window !== null) {
      const open = windowAt(policy.window, now);
      if (open === null) {
        notBefore = null;
        const next = nextOpening(policy.window, now);
        return wait(next === null ? 'outside the maintenance window, which never opens again' : `outside the maintenance window; it opens at ${next.toISOString()}`, next);
      }
      if (notBefore !== null && (notBefore < open.start || notBefore >= open.end)) notBefore = null;
      room = Math.min(room, open.end.getTime() - now.getTime());
    }
    if (notBefore === null) {
      const draw = Math.min(Math.max(input.random, 0), 0.999_999);
      notBefore = new Date(now.getTime() + Math.floor(draw * Math.max(room, 0)));
    }
    if (now < notBefore) return wait(`random reboot delay until ${notBefore.toISOString()}`, notBefore);
  }
  if (input.inhibitors === null) return wait(`inhibitor locks could not be listed (${input.inhibitorError ?? 'unknown error'}); not rebooting blind`, null);
  const blocking = input.inhibitors.filter(blocksReboot);
  if (blocking.length > 0) {
    return wait(`held back by inhibitor lock${blocking.length === 1 ? '' : 's'} ${blocking.map(describeInhibitor).join(', ')}`, null, blocking);
  }
  return { kind: 'reboot' };
}

// ---------------------------------------------------------------------------------------------------------------
// The reboot path's part of `step`.

/** True while the deployment waits for its reboot: a resume then is the daemon's next look, not a crash. */
export function awaitingReboot(deployment: Deployment | null): boolean {
  return deployment?.reboot !== undefined && (deployment.phase === 'awaiting-reboot' || deployment.phase === 'rebooting');
}

/**
 * A boot entry staged for a reboot that has not happened: a manifest of the running system is then no longer
 * "in sync" (the next boot would start the staged generation), so it is deployed and puts the boot entry back.
 */
export function rebootStaged(deployment: Deployment | null): boolean {
  return deployment?.reboot?.stage === 'before' && ['staging-boot', 'awaiting-reboot', 'rebooting'].includes(deployment.phase);
}

/** What reports say of a deployment on the reboot path. */
export function rebootReport(deployment: Deployment | null): RebootReport | undefined {
  const reboot = deployment?.reboot;
  if (reboot === undefined) return undefined;
  return {
    changed: reboot.changed,
    stage: reboot.stage,
    waiting: reboot.waiting,
    nextCheck: reboot.nextCheck,
    inhibitors: reboot.inhibitors,
    reboots: reboot.reboots,
  };
}

/** The reason a deployment waits changed: worth a report even though its phase did not. */
export function rebootWaitChanged(before: Deployment | null, after: Deployment | null): boolean {
  return after?.reboot !== undefined && before?.reboot?.waiting !== after.reboot.waiting;
}

