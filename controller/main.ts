#!/usr/bin/env node
// Composition root of tsdeploy-controller: the only module that reads argv and env.
import { runCli, UsageError } from '../shared/cli.js';
import { createBundleNix } from './bundle-nix.js';
import { hostsCommand, tokensCommand } from './commands/admin.js';
import { bundleCommand, bundleVerifyCommand } from './commands/bundle.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { reportsImportCommand } from './commands/reports.js';
import { keygenCommand, manifestSignCommand } from './commands/keys.js';
import { publishCommand } from './commands/publish.js';
import { checkConfigCommand, serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';

const HELP = `Usage: tsdeploy-controller <command> [options]

Server:
  serve --config FILE [--state-dir DIR] [--listen HOST:PORT]
                                        run the controller (HTTP API for agents and operators)
  check-config FILE                     validate a controller config file

Operator (signs locally, talks to the controller over HTTP):
  keygen --name NAME --out-dir DIR      make an ed25519 key pair in Nix's format (NAME.secret, NAME.public)
  manifest sign --key SECRET --host HOST --path STORE_PATH --version N
                [--activation switch|boot|test|dry-activate] [--expires-in 7d] [--system SYSTEM]
                [--rollout ID] [--note TEXT]
                                        print a signed manifest envelope
  publish --controller URL --key SECRET [--key ...] (--host HOST --path STORE_PATH | --release FILE)
          [--activation MODE] [--expires-in 7d] [--system SYSTEM] [--rollout ID] [--note TEXT]
          [--force] [--json]            sign version current+1 for each host and upload it
  status --controller URL [--json] [--watch [--interval 2s]]
                                        the fleet: desired, current, phase, health, last seen

Admin (on the controller machine, acting on its state directory):
  hosts list|approve HOST [--key KEY]|revoke HOST [--state-dir DIR | --config FILE]
                                        enrollment requests and enrolled agent keys
  tokens create --host HOST [--ttl 1h] [--state-dir DIR | --config FILE]
                                        print a one-time enrollment token for HOST (shown once)
  export --state-dir DIR --out DIR      write the manifests as OUT/v1/hosts/<host>/manifest for a static server

Air-gapped sites:
  bundle --release FILE --key SECRET [--key ...] --cache-key CACHE_SECRET --out DIR
         [--version N] [--expires-in 30d] [--activation MODE] [--system SYSTEM]
                                        a self-contained directory: signed cache, manifests, signed index
                                        (version defaults to seconds since the epoch)
  bundle verify DIR --trusted-key KEY [--trusted-key ...] [--threshold K] [--cache-key PUBLIC ...]
                                        check a bundle; names every missing or altered file (exit 3)
  import (--config FILE | --state-dir DIR --trusted-key KEY ...) [--cache-dir DIR] [--controller URL] DIR
                                        verify a bundle, refuse an older or altered one, add its cache
                                        (served under /nix-cache/) and publish its manifests
  reports import FILE (--config FILE | --state-dir DIR) [--controller URL]
                                        accept reports carried from hosts (tsdeploy-agent reports export)

  help                                  show this help

Run 'tsdeploy-controller <command> --help' for a command's options. See the README for exit codes.
`;

/** Aborted on the first SIGINT or SIGTERM, so serve and status --watch can finish cleanly. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (text: string) => process.stdout.write(text);
  const err = (text: string) => process.stderr.write(text);
  const now = () => new Date();
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(HELP);
      return 0;
    case 'serve':
      return serveCommand(rest, { out, stop: stopSignal(), logDestination: process.stdout });
    case 'check-config':
      return checkConfigCommand(rest[0], { out, err });
    case 'keygen':
      return keygenCommand(rest, out);
    case 'manifest':
      if (rest[0] === 'sign') return manifestSignCommand(rest.slice(1), out, now);
      throw new UsageError(`unknown manifest subcommand "${rest[0] ?? ''}" (expected: sign)`);
    case 'publish':
      return publishCommand(rest, { out, err, now });
    case 'status':
      return statusCommand(rest, { out, now, stop: stopSignal() });
    case 'hosts':
      return hostsCommand(rest, { out, now, uid });
    case 'tokens':
      return tokensCommand(rest, { out, now, uid });
    case 'export':
      return exportCommand(rest, { out });
    case 'bundle':
      if (rest[0] === 'verify') return bundleVerifyCommand(rest.slice(1), { out, err, now, nix: createBundleNix() });
      return bundleCommand(rest, { out, err, now, nix: createBundleNix() });
    case 'import':
      return importCommand(rest, { out, err, now, uid, nix: createBundleNix() });
    case 'reports':
      if (rest[0] === 'import') return reportsImportCommand(rest.slice(1), { out, err, now, uid });
      throw new UsageError(`unknown reports subcommand "${rest[0] ?? ''}" (expected: import)`);
    default:
      throw new UsageError(`unknown command "${command}"; run tsdeploy-controller --help`);
  }
}

await runCli('tsdeploy-controller', () => main(process.argv.slice(2)));
