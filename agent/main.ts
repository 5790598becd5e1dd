#!/usr/bin/env node
// Composition root of tsdeploy-agent: the only module that reads argv and env.
import { runCli, runProgram } from '../shared/cli.js';
import { createLogger } from '../shared/log.js';
import type { AgentIo } from './cli-context.js';
import { checkConfigCommand } from './commands/check-config.js';
import { onceCommand } from './commands/once.js';
import { pubkeyCommand } from './commands/pubkey.js';
import { reportsExportCommand } from './commands/reports-export.js';
import { rollbackCommand } from './commands/rollback.js';
import { runCommand } from './commands/run.js';
import { statusCommand } from './commands/status.js';
import { verifyManifestCommand } from './commands/verify-manifest.js';

const HELP = `Usage: tsdeploy-agent <command> [options]

Commands:
  run --config FILE                     the daemon: pull, verify, realise, switch, health-check, report, roll back
  once --config FILE [--json]           one poll-and-apply cycle (exit 0 in sync/applied, 3 rejected, 4 rolled back, 1 failed)
  status --config FILE [--json]         current system, profile generation, last accepted version, journal, last health
  rollback --config FILE                return to the previous generation, activate it and check its health
  check-config FILE                     validate an agent config file
  pubkey --config FILE                  print this agent's public key (made on first use) for enrollment
  reports export --config FILE --out FILE
                                        write queued signed reports for carrying to the controller
  verify-manifest --trusted-key KEY [--trusted-key ...] [--threshold K] --host HOST
                  [--last-version N [--last-digest SHA256]] FILE|-
                                        check a signed manifest as the agent would
  help                                  show this help

Run 'tsdeploy-agent <command> --help' for a command's options; --version prints the version.
Logs are JSON lines (stdout for run, stderr for the one-shot commands). TSDEPLOY_LOG_LEVEL overrides the config's logLevel.
`;

const COMMANDS = [
  runCommand,
  onceCommand,
  statusCommand,
  rollbackCommand,
  checkConfigCommand,
  pubkeyCommand,
  reportsExportCommand,
  verifyManifestCommand,
];

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(argv: readonly string[]): Promise<number> {
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop.abort();
      // The journal makes an interrupted deployment resumable, so stopping promptly is safe.
      setTimeout(() => process.exit(0), 2000).unref();
    });
  }
  // systemd sets JOURNAL_STREAM when the output goes to journald: lines then carry their syslog priority.
  const journald = process.env['JOURNAL_STREAM'] !== undefined;
  const levelFor = (configured: string) => process.env['TSDEPLOY_LOG_LEVEL'] ?? configured;
  // Crash tests: stop (SIGSTOP) right after the journal records one of these phases, for a kill -9.
  const faultPhases = (process.env['TSDEPLOY_FAULT_STOP_AFTER_PHASE'] ?? '').split(',').filter((p) => p !== '');
  const io: AgentIo = {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    logger: (config, target) =>
      target === 'silent'
        ? createLogger('tsdeploy-agent', 'silent')
        : createLogger('tsdeploy-agent', levelFor(config.logLevel), target === 'stderr' ? process.stderr : undefined, { journald }),
    stop: stop.signal,
    stdin: readStdin,
    now: () => new Date(),
    ...(faultPhases.length === 0
      ? {}
      : {
          afterPersist: async (journal) => {
            if (faultPhases.includes(journal.deployment?.phase ?? '')) process.kill(process.pid, 'SIGSTOP');
          },
        }),
  };
  return runProgram('tsdeploy-agent', HELP, COMMANDS, argv, io);
}

await runCli('tsdeploy-agent', () => main(process.argv.slice(2)));
