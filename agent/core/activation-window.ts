// The activation window (`activationWindow`): a realised `switch` or `test` waits in `awaiting-window` until the
// window opens, then runs. Pure.
import type { ActivationWindowReport } from '../../shared/report.js';
import { effectFor, withDeployment } from './effects.js';
import type { Deployment, Journal } from './journal.js';
import { nextOpening, windowAt, type WindowSpec } from './maintenance-window.js';
import type { StepResult } from './step.js';

/**
 * The activations the window holds: the ones that change the running system. `boot` takes effect only at the
 * next boot and `dry-activate` changes nothing, so neither is held; nor is a switch deployed by a reboot
 * (`reboot: "when-needed"`), which never runs before its reboot and waits for `maintenanceWindow` instead.
 */
export function heldByWindow(activation: Deployment['activation']): boolean {
  return activation === 'switch' || activation === 'test';
}

export type WindowVerdict =
  | { readonly kind: 'activate' }
  /** `opensAt` null: the expression never ticks again (check-config refuses such expressions). */
  | { readonly kind: 'wait'; readonly opensAt: Date | null };

/** Whether a deployment of `activation` may activate at `now`: at once without a window (null), else inside it. */
export function windowVerdict(activation: Deployment['activation'], window: WindowSpec | null, now: Date): WindowVerdict {
  if (window === null || !heldByWindow(activation) || windowAt(window, now) !== null) return { kind: 'activate' };
  return { kind: 'wait', opensAt: nextOpening(window, now) };
}

function waiting(journal: Journal, deployment: Deployment, opensAt: Date | null, time: string, note?: string): StepResult {
  const next: Deployment = { ...deployment, phase: 'awaiting-window', activationWindow: { opensAt: opensAt?.toISOString() ?? null }, updatedAt: time };
  return { journal: withDeployment(journal, next), effect: null, ...(note === undefined ? {} : { note }) };
}

const opensText = (opensAt: Date | null): string => (opensAt === null ? 'which never opens again' : `which opens at ${opensAt.toISOString()}`);

/** A deployment just `realised`: held in `awaiting-window` when the window is closed; null to go on as usual. */
export function holdRealised(journal: Journal, realised: Deployment, now: Date, window: WindowSpec | null): StepResult | null {
  const verdict = windowVerdict(realised.activation, window, now);
  if (verdict.kind === 'activate') return null;
  return waiting(journal, realised, verdict.opensAt, now.toISOString(), `the ${realised.activation} waits for the activation window, ${opensText(verdict.opensAt)}`);
}

/**
 * A resume of a deployment in `awaiting-window`: the daemon's look at the window (at its opening, or after a
 * restart or crash), so no resume is counted. Inside the window it goes on from `realised`; outside it waits on.
 */
export function windowResume(journal: Journal, deployment: Deployment, now: Date, window: WindowSpec | null): StepResult {
  const time = now.toISOString();
  const verdict = windowVerdict(deployment.activation, window, now);
  if (verdict.kind === 'wait') return waiting(journal, deployment, verdict.opensAt, time);
  const { activationWindow: _held, ...rest } = deployment;
  const next: Deployment = { ...rest, phase: 'realised', updatedAt: time };
  return { journal: withDeployment(journal, next), effect: effectFor(next, false), note: `the activation window is open: running the ${deployment.activation}` };
}

/** What reports say of a held deployment: when the window opens. */
export function windowReport(deployment: Deployment | null): ActivationWindowReport | undefined {
  return deployment?.phase === 'awaiting-window' ? deployment.activationWindow : undefined;
}
