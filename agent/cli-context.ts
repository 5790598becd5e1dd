// What every agent command gets from the composition root, and the `--config FILE` flag they share.
import { requireFlag, type Output } from '../shared/cli.js';
import type { Logger } from '../shared/log.js';
import { checkStateDir, type StateDirAccess } from '../shared/state-dir.js';
import { loadAgentConfig, type AgentConfig } from './config.js';
import type { Journal } from './core/journal.js';

/** Where a command's logs go: stdout for the daemon (journald), stderr for one-shot commands, nowhere for queries. */
export type LogTarget = 'stdout' | 'stderr' | 'silent';

export interface AgentIo extends Output {
  logger(config: AgentConfig, target: LogTarget): Logger;
  /** Aborted on SIGTERM / SIGINT. */
  readonly stop: AbortSignal;
  stdin(): Promise<Buffer>;
  now(): Date;
  /** Crash-test fault injection, from the composition root; unset in production. */
  readonly afterPersist?: (journal: Journal) => Promise<void>;
}

export const CONFIG_FLAG = { config: { type: 'string' } } as const;
export const CONFIG_USAGE = '  --config FILE   the agent config (the NixOS module writes it)\n';

/**
 * The config of `--config`, with its state directory checked (and made, for commands that write):
 * a file in its place, a read-only mount or missing permissions is one line, before anything else runs.
 */
export async function configFrom(values: { readonly config?: string | undefined }, access: StateDirAccess = 'write'): Promise<AgentConfig> {
  const config = await loadAgentConfig(requireFlag(values, 'config'));
  // Nothing to read yet is fine for `status`: it shows an empty journal.
  await checkStateDir(config.stateDir, { access, create: access === 'write', setting: 'stateDir in the config' });
  return config;
}
