// `rollback`: the operator's return to the generation before the current one, journaled and health-checked.
import { defineCommand, EXIT } from '../../shared/cli.js';
import { printable } from '../../shared/printable.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';
import { withStateLock } from '../adapters/state-lock.js';
import { createRuntime } from '../runtime.js';

export const rollbackCommand = defineCommand({
  name: 'rollback',
  summary: 'Return to the generation before the current one, activate it and check its health.',
  usage: CONFIG_USAGE,
  flags: CONFIG_FLAG,
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values);
    return withStateLock(config.stateDir, 'rollback', async () => {
      const runtime = await createRuntime(config, io.logger(config, 'stderr'));
      try {
        const result = await runtime.agent.rollbackManually();
        await runtime.agent.flushReports().catch(() => false);
        (result.ok ? io.out : io.err)(`${result.ok ? 'rolled back' : 'rollback failed'}: ${printable(result.detail)}\n`);
        return result.ok ? EXIT.ok : EXIT.failure;
      } finally {
        await runtime.close();
      }
    });
  },
});
