// `check-config FILE`: validates an agent config file and lists every problem, one per line.
import { checkConfigCommand as checkConfig } from '../../shared/check-config.js';
import type { AgentIo } from '../cli-context.js';
import { loadAgentConfig } from '../config.js';

export const checkConfigCommand = checkConfig<Awaited<ReturnType<typeof loadAgentConfig>>, AgentIo>(
  loadAgentConfig,
  (config) => `host ${config.host}, source ${config.source}`,
);
