#!/usr/bin/env node
// Composition root of tsdeploy-agent: the only module that reads argv and env.
import { runCli, UsageError } from '../shared/cli.js';
import { checkConfigCommand } from './commands/check-config.js';
import { verifyManifestCommand } from './commands/verify-manifest.js';

const HELP = `Usage: tsdeploy-agent <command> [options]

Commands:
  check-config FILE                     validate an agent config file
  verify-manifest --trusted-key KEY [--trusted-key ...] [--threshold K] --host HOST
                  [--last-version N] FILE|-
                                        check a signed manifest as the agent would
  help                                  show this help

Run 'tsdeploy-agent <command> --help' for a command's options. See the README for exit codes.
`;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { out: (t: string) => process.stdout.write(t), err: (t: string) => process.stderr.write(t) };
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(HELP);
      return 0;
    case 'check-config':
      return checkConfigCommand(rest[0], io);
    case 'verify-manifest':
      return verifyManifestCommand(rest, { ...io, stdin: readStdin }, () => new Date());
    default:
      throw new UsageError(`unknown command "${command}"; run tsdeploy-agent --help`);
  }
}

await runCli('tsdeploy-agent', () => main(process.argv.slice(2)));
