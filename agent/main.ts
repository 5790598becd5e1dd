#!/usr/bin/env node
// Composition root of tsdeploy-agent: the only module that reads argv and env.
import { runCli, UsageError } from '../shared/cli.js';
import { createLogger } from '../shared/log.js';
import { checkConfigCommand } from './commands/check-config.js';
import {
  onceCommand,
  pubkeyCommand,
  reportsExportCommand,
  rollbackCommand,
  runCommand,
  statusCommand,
  type CommandIo,
} from './commands/deploy.js';
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
                  [--last-version N] FILE|-
                                        check a signed manifest as the agent would
  help                                  show this help

Run 'tsdeploy-agent <command> --help' for a command's options. Logs are JSON lines (stdout for run,
stderr for the one-shot commands). TSDEPLOY_LOG_LEVEL overrides the config's logLevel.
`;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop.abort();
      // The journal makes an interrupted deployment resumable, so stopping promptly is safe.
      setTimeout(() => process.exit(0), 2000).unref();
    });
  }
  const levelFor = (configured: string) => process.env['TSDEPLOY_LOG_LEVEL'] ?? configured;
  // Crash tests: stop (SIGSTOP) right after the journal records one of these phases, for a kill -9.
  const faultPhases = (process.env['TSDEPLOY_FAULT_STOP_AFTER_PHASE'] ?? '').split(',').filter((p) => p !== '');
  const io: CommandIo = {
    out: (t: string) => void process.stdout.write(t),
    err: (t: string) => void process.stderr.write(t),
    logger: (config) => createLogger('tsdeploy-agent', levelFor(config.logLevel)),
    stop: stop.signal,
    ...(faultPhases.length === 0
      ? {}
      : {
          afterPersist: async (journal) => {
            if (faultPhases.includes(journal.deployment?.phase ?? '')) process.kill(process.pid, 'SIGSTOP');
          },
        }),
  };
  const toStderr: CommandIo = { ...io, logger: (config) => createLogger('tsdeploy-agent', levelFor(config.logLevel), process.stderr) };
  const silent: CommandIo = { ...io, logger: () => createLogger('tsdeploy-agent', 'silent') };
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(HELP);
      return 0;
    case 'run':
      return runCommand(rest, io);
    case 'once':
      return onceCommand(rest, toStderr);
    case 'status':
      return statusCommand(rest, silent);
    case 'rollback':
      return rollbackCommand(rest, toStderr);
    case 'pubkey':
      return pubkeyCommand(rest, silent);
    case 'reports':
      if (rest[0] === 'export') return reportsExportCommand(rest.slice(1), silent);
      throw new UsageError(`unknown reports subcommand "${rest[0] ?? ''}" (expected: export)`);
    case 'check-config':
      return checkConfigCommand(rest[0], io);
    case 'verify-manifest':
      return verifyManifestCommand(rest, { ...io, stdin: readStdin }, () => new Date());
    default:
      throw new UsageError(`unknown command "${command}"; run tsdeploy-agent --help`);
  }
}

await runCli('tsdeploy-agent', () => main(process.argv.slice(2)));
