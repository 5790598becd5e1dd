// `once`: one poll-and-apply cycle, with an exit code (and `--json`) for scripts.
import { defineCommand } from '../../shared/cli.js';
import { printable, printableJson } from '../../shared/printable.js';
import type { Deployment } from '../core/journal.js';
import { onceExitCode, onceLine, type OnceResult } from '../core/once-result.js';
import { FetchError } from '../adapters/source.js';
import { withStateLock } from '../adapters/state-lock.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';
import { ensureEnrolled } from '../daemon/enrollment.js';
import { createRuntime, type Runtime } from '../runtime.js';

interface Ended {
  readonly result: OnceResult;
  readonly deployment: Deployment | null;
  readonly reason: string | null;
}

/**
 * Enrollment, then one cycle; a source that does not answer ends it as `unreachable` instead of an error. A
 * pending enrollment ends it (a controller said so); a refused or unanswered one does not: the source may be a
 * static mirror, which has no enrollment, or another source may answer.
 */
async function oneCycle(runtime: Runtime, enroll: () => ReturnType<typeof ensureEnrolled>): Promise<Ended> {
  const journalDeployment = async () => (await runtime.agent.journal()).deployment;
  const enrollment = await enroll();
  if (enrollment.kind === 'pending') return { result: 'enrollment-pending', deployment: await journalDeployment(), reason: 'waiting for an operator to approve this host' };
  let cycle;
  try {
    cycle = await runtime.agent.cycle(0);
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    return { result: 'unreachable', deployment: await journalDeployment(), reason: error.message };
  }
  const deployment = cycle.kind === 'deployed' ? cycle.deployment : await journalDeployment();
  return { result: cycle.kind, deployment, reason: cycle.kind === 'rejected' ? cycle.error : (deployment?.reason ?? null) };
}

export const onceCommand = defineCommand({
  name: 'once',
  summary: 'One poll-and-apply cycle; exit 0 in sync or applied, 3 rejected, 4 rolled back, 1 failed or unreachable.',
  usage: `${CONFIG_USAGE}  --json          print {result, host, version, storePath, phase, reason, exitCode}\n`,
  flags: { ...CONFIG_FLAG, json: { type: 'boolean' } },
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values);
    const log = io.logger(config, 'stderr');
    return withStateLock(config.stateDir, 'once', async () => {
      const runtime = await createRuntime(config, log, io.afterPersist);
      try {
        const ended = await oneCycle(runtime, () => ensureEnrolled(config, runtime, log, true));
        await runtime.agent.flushReports().catch(() => false);
        const { result, deployment, reason } = ended;
        const code = onceExitCode(result, deployment?.phase ?? null);
        const line = onceLine(result, config.host, reason);
        if (values.json === true) {
          const summary = {
            result,
            host: config.host,
            version: deployment?.version ?? null,
            storePath: deployment?.storePath ?? null,
            phase: deployment?.phase ?? null,
            reason,
            exitCode: code,
          };
          io.out(`${printableJson(summary, 0)}\n`);
          // What did not reach a deployment is also said on stderr, for the person watching the script.
          if (line !== null && result !== 'no-manifest') io.err(`${printable(line)}\n`);
          return code;
        }
        // Reasons quote what a source, a cache (through Nix's messages) or a health check said: escaped.
        if (result === 'rejected') io.err(`rejected: ${printable(reason ?? '')}\n`);
        if (line !== null) io.err(`${printable(line)}\n`);
        if (result === 'deployed' && deployment !== null) {
          io.err(`version ${deployment.version}: ${deployment.phase}${deployment.reason === null ? '' : ` (${printable(deployment.reason)})`}\n`);
        }
        return code;
      } finally {
        await runtime.close();
      }
    });
  },
});
