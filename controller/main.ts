#!/usr/bin/env node
// Composition root of tsdeploy-controller: the only module that reads argv and env.
import { runCli, UsageError } from '../shared/cli.js';
import { keygenCommand, manifestSignCommand } from './commands/keys.js';

const HELP = `Usage: tsdeploy-controller <command> [options]

Commands:
  keygen --name NAME --out-dir DIR      make an ed25519 key pair in Nix's format (NAME.secret, NAME.public)
  manifest sign --key SECRET --host HOST --path STORE_PATH --version N
                [--activation switch|boot|test|dry-activate] [--expires-in 7d] [--system SYSTEM]
                [--rollout ID] [--note TEXT]
                                        print a signed manifest envelope
  help                                  show this help

Run 'tsdeploy-controller <command> --help' for a command's options. See the README for exit codes.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (text: string) => process.stdout.write(text);
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(HELP);
      return 0;
    case 'keygen':
      return keygenCommand(rest, out);
    case 'manifest':
      if (rest[0] === 'sign') return manifestSignCommand(rest.slice(1), out, () => new Date());
      throw new UsageError(`unknown manifest subcommand "${rest[0] ?? ''}" (expected: sign)`);
    default:
      throw new UsageError(`unknown command "${command}"; run tsdeploy-controller --help`);
  }
}

await runCli('tsdeploy-controller', () => main(process.argv.slice(2)));
