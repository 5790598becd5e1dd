// When a deployment that waits on a time wants the daemon's next look. Pure.
import type { Journal } from './journal.js';

/**
 * How long the daemon may sleep before a waiting deployment wants another look: a reboot decision's next
 * check (`awaiting-reboot`) or an activation window's opening (`awaiting-window`); null when nothing waits
 * on a time.
 */
export function nextLookDelayMs(journal: Journal, now: Date): number | null {
  const deployment = journal.deployment;
  const at =
    deployment?.phase === 'awaiting-reboot' ? deployment.reboot?.nextCheck : deployment?.phase === 'awaiting-window' ? deployment.activationWindow?.opensAt : null;
  return at == null ? null : Math.max(0, Date.parse(at) - now.getTime());
}
