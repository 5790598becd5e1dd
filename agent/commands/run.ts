// `run`: the daemon.
import { defineCommand } from '../../shared/cli.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';
import { runDaemon } from '../daemon/loop.js';

export const runCommand = defineCommand({
  name: 'run',
  summary: 'The daemon: pull, verify, realise, switch, health-check, report, roll back.',
  usage: CONFIG_USAGE,
  flags: CONFIG_FLAG,
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values);
    return runDaemon(config, io.logger(config, 'stdout'), io.stop, io.afterPersist);
  },
});
