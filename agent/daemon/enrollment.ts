// Enrollment of the agent's key with its controller: once, remembered in the state directory.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../shared/files.js';
import type { Logger } from '../../shared/log.js';
import type { AgentConfig } from '../config.js';
import type { Runtime } from '../runtime.js';
import { agentStatePaths } from '../../shared/layout.js';

export type EnrollmentState =
  | { readonly kind: 'enrolled' | 'not-needed' | 'pending' }
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'unreachable'; readonly error: string };

/** True when the daemon can go on without asking again (a pending request is asked about again only by a new start). */
export function enrollmentSettled(state: EnrollmentState): boolean {
  return state.kind !== 'refused' && state.kind !== 'unreachable';
}

/**
 * Enrolls the agent's key once; remembers success in the state directory. `oneShot` (`once`) words the
 * log lines for a command that will not try again by itself.
 */
export async function ensureEnrolled(config: AgentConfig, runtime: Runtime, log: Logger, oneShot = false): Promise<EnrollmentState> {
  if (runtime.controller === null) return { kind: 'not-needed' };
  const marker = agentStatePaths(config.stateDir).enrolled;
  const recorded = await readFile(marker, 'utf8').catch(() => null);
  if (recorded?.trim() === runtime.publicKey) return { kind: 'enrolled' };
  const token = config.enrollmentTokenFile === undefined ? null : (await readFile(config.enrollmentTokenFile, 'utf8').catch(() => null))?.trim() ?? null;
  const result = await runtime.controller.enroll(runtime.publicKey, token === '' ? null : token);
  switch (result.kind) {
    case 'enrolled':
      await writeFileAtomic(marker, `${runtime.publicKey}\n`, 0o600);
      log.info({ host: config.host }, 'enrolled with the controller');
      return { kind: 'enrolled' };
    case 'pending':
      log.info({ host: config.host, publicKey: runtime.publicKey }, 'enrollment pending: approve with `tsdeploy-controller hosts approve`');
      return { kind: 'pending' };
    case 'refused':
      log.error({ host: config.host, status: result.status, error: result.error }, 'enrollment refused');
      return { kind: 'refused', error: `HTTP ${result.status}: ${result.error}` };
    case 'unreachable':
      log.warn({ host: config.host, error: result.error }, oneShot ? 'controller unreachable for enrollment' : 'controller unreachable for enrollment; will retry');
      return { kind: 'unreachable', error: result.error };
  }
}
