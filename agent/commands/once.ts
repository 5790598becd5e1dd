// `once`: one poll-and-apply cycle, with an exit code (and `--json`) for scripts.
import { defineCommand } from '../../shared/cli.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';
import { cycleExitCode } from '../core/outcome.js';
import { ensureEnrolled } from '../daemon/enrollment.js';
import { createRuntime } from '../runtime.js';

export const onceCommand = defineCommand({
  name: 'once',
  summary: 'One poll-and-apply cycle; exit 0 in sync or applied, 3 rejected, 4 rolled back, 1 failed.',
  usage: `${CONFIG_USAGE}  --json          print {result, host, version, storePath, phase, reason, exitCode}\n`,
  flags: { ...CONFIG_FLAG, json: { type: 'boolean' } },
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values);
    const log = io.logger(config, 'stderr');
    const runtime = await createRuntime(config, log, io.afterPersist);
    try {
      await ensureEnrolled(config, runtime, log);
      const result = await runtime.agent.cycle(0);
      await runtime.agent.flushReports().catch(() => false);
      const deployment = result.kind === 'deployed' ? result.deployment : (await runtime.agent.journal()).deployment;
      const code = cycleExitCode(result.kind, deployment?.phase ?? null);
      if (values.json === true) {
        const summary = {
          result: result.kind,
          host: config.host,
          version: deployment?.version ?? null,
          storePath: deployment?.storePath ?? null,
          phase: deployment?.phase ?? null,
          reason: result.kind === 'rejected' ? result.error : (deployment?.reason ?? null),
          exitCode: code,
        };
        io.out(`${JSON.stringify(summary)}\n`);
        return code;
      }
      if (result.kind === 'rejected') io.err(`rejected: ${result.error}\n`);
      if (result.kind === 'no-manifest') io.err(`no manifest published for ${config.host}\n`);
      if (result.kind === 'deployed') {
        const d = result.deployment;
        io.err(`version ${d.version}: ${d.phase}${d.reason === null ? '' : ` (${d.reason})`}\n`);
      }
      return code;
    } finally {
      await runtime.close();
    }
  },
});
