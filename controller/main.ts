#!/usr/bin/env node
// Composition root of tsdeploy-controller: the only module that reads argv and env.
import { createInterface } from 'node:readline/promises';
import { runCli, runProgram } from '../shared/cli.js';
import { createBundleNix } from './bundle/nix.js';
import { bundleVerifyCommand } from './commands/bundle-verify.js';
import { bundleCommand } from './commands/bundle.js';
import { checkConfigCommand } from './commands/check-config.js';
import type { ControllerIo } from './commands/context.js';
import { exportCommand } from './commands/export.js';
import { hostsApproveCommand } from './commands/hosts-approve.js';
import { hostsListCommand } from './commands/hosts-list.js';
import { hostsRevokeCommand } from './commands/hosts-revoke.js';
import { importCommand } from './commands/import.js';
import { keygenCommand } from './commands/keygen.js';
import { manifestSignCommand } from './commands/manifest-sign.js';
import { publishCommand } from './commands/publish.js';
import { reportsImportCommand } from './commands/reports-import.js';
import { rolloutAbortCommand, rolloutPauseCommand, rolloutResumeCommand } from './commands/rollout-control.js';
import { rolloutStartCommand } from './commands/rollout-start.js';
import { rolloutStatusCommand } from './commands/rollout-status.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { tokensCreateCommand } from './commands/tokens-create.js';

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
  status --controller URL [--json] [--watch [--interval 2s]] [--read-token-file FILE]
                                        the fleet: desired, current, phase, health, last seen; the rollout's waves
  rollout start --controller URL --key SECRET --release FILE [--policy FILE] [--id ID]
                                        sign every host's manifest up front; canary, then waves that halt themselves
  rollout status --controller URL [--json] [--watch] [--read-token-file FILE]
                                        the current rollout's waves and progress

Admin (on the controller machine, acting on its state directory):
  hosts list|approve HOST [--key KEY [--force]]|revoke HOST [--state-dir DIR | --config FILE]
                                        enrollment requests and enrolled agent keys (--force: re-enroll a revoked host)
  tokens create --host HOST [--ttl 1h] [--state-dir DIR | --config FILE]
                                        print a one-time enrollment token for HOST (shown once)
  rollout pause|resume|abort [--state-dir DIR | --config FILE]
                                        hold, go on with, or end the current rollout
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

Run 'tsdeploy-controller <command> --help' for a command's options; --version prints the version. See the README for exit codes.
`;

const COMMANDS = [
  serveCommand,
  checkConfigCommand,
  keygenCommand,
  manifestSignCommand,
  publishCommand,
  statusCommand,
  hostsListCommand,
  hostsApproveCommand,
  hostsRevokeCommand,
  tokensCreateCommand,
  exportCommand,
  bundleCommand,
  bundleVerifyCommand,
  importCommand,
  reportsImportCommand,
  rolloutStartCommand,
  rolloutStatusCommand,
  rolloutPauseCommand,
  rolloutResumeCommand,
  rolloutAbortCommand,
];

/** Aborted on the first SIGINT or SIGTERM, so serve and status --watch can finish cleanly. */
function stopSignal(): () => AbortSignal {
  let signal: AbortSignal | null = null;
  return () => {
    if (signal === null) {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      signal = controller.signal;
    }
    return signal;
  };
}

async function askYesNo(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

function main(argv: readonly string[]): Promise<number> {
  const io: ControllerIo = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    now: () => new Date(),
    uid: typeof process.getuid === 'function' ? process.getuid() : null,
    stop: stopSignal(),
    isTty: process.stdout.isTTY === true,
    stdinIsTty: process.stdin.isTTY === true,
    confirm: askYesNo,
    logDestination: process.stdout,
    journald: process.env['JOURNAL_STREAM'] !== undefined,
    nix: createBundleNix,
  };
  return runProgram('tsdeploy-controller', HELP, COMMANDS, argv, io);
}

await runCli('tsdeploy-controller', () => main(process.argv.slice(2)));
