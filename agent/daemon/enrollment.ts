// Enrollment of the agent's key with its controller: once, remembered in the state directory.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import type { Logger } from '../../shared/log.js';
import type { AgentConfig } from '../config.js';
import type { Runtime } from '../runtime.js';

/** Enrolls the agent's key once; remembers success in the state directory. */
export async function ensureEnrolled(config: AgentConfig, runtime: Runtime, log: Logger): Promise<'enrolled' | 'pending' | 'failed' | 'not-needed'> {
  if (runtime.controller === null) return 'not-needed';
  const marker = join(config.stateDir, 'enrolled');
  const recorded = await readFile(marker, 'utf8').catch(() => null);
  if (recorded?.trim() === runtime.publicKey) return 'enrolled';
  const token = config.enrollmentTokenFile === undefined ? null : (await readFile(config.enrollmentTokenFile, 'utf8').catch(() => null))?.trim() ?? null;
  const result = await runtime.controller.enroll(runtime.publicKey, token === '' ? null : token);
  switch (result.kind) {
    case 'enrolled':
      await writeFileAtomic(marker, `${runtime.publicKey}\n`, 0o600);
      log.info({ host: config.host }, 'enrolled with the controller');
      return 'enrolled';
    case 'pending':
      log.info({ host: config.host, publicKey: runtime.publicKey }, 'enrollment pending: approve with `tsdeploy-controller hosts approve`');
      return 'pending';
    case 'refused':
      log.error({ host: config.host, status: result.status, error: result.error }, 'enrollment refused');
      return 'failed';
    case 'unreachable':
      log.warn({ host: config.host, error: result.error }, 'controller unreachable for enrollment; will retry');
      return 'failed';
  }
}

