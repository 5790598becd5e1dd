// `run` (the daemon), `once`, `rollback`, `status`, `pubkey` and `reports export`.
import { EXIT, parseFlags, requireFlag } from '../../shared/cli.js';
import { errorMessage } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/files.js';
import { formatPublicKey, publicKeyOf } from '../../shared/keys.js';
import type { Logger } from '../../shared/log.js';
import { loadAgentConfig, type AgentConfig } from '../config.js';
import { readJournal, type Journal } from '../journal.js';
import { ensureAgentKey } from '../identity.js';
import { createNix } from '../nix.js';
import { agentUnitChanged, createRuntime, ensureEnrolled, pollDelayMs, waitForNextPoll } from '../runtime.js';

type Out = (text: string) => void;
export interface CommandIo {
  readonly out: Out;
  readonly err: Out;
  readonly logger: (config: AgentConfig) => Logger;
  /** Aborted on SIGTERM / SIGINT. */
  readonly stop: AbortSignal;
  /** Crash-test fault injection, from the composition root; unset in production. */
  readonly afterPersist?: (journal: Journal) => Promise<void>;
}

/** Parses `--config FILE [--help]`; null config means help was asked for. */
async function configFrom(args: readonly string[]): Promise<{ config: AgentConfig | null }> {
  const { values } = parseFlags(args, { config: { type: 'string' }, help: { type: 'boolean' } });
  return { config: values.help === true ? null : await loadAgentConfig(requireFlag(values, 'config')) };
}

/** The daemon: resume, enroll, then long-poll (controller) or poll on schedule (mirror, file://). */
export async function runCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { config } = await configFrom(args);
  if (config === null) {
    io.out('Usage: tsdeploy-agent run --config FILE\n  the daemon: pulls, applies, health-checks, reports, rolls back\n');
    return EXIT.ok;
  }
  const log = io.logger(config);
  const runtime = await createRuntime(config, log, io.afterPersist);
  log.info({ host: config.host, source: config.source, publicKey: runtime.publicKey }, 'agent starting');
  let enrolled = (await ensureEnrolled(config, runtime, log)) !== 'failed';
  const heartbeat = setInterval(() => {
    void runtime.agent.heartbeat().catch((error: unknown) => log.warn({ err: errorMessage(error) }, 'heartbeat failed'));
  }, config.reports.heartbeatSeconds * 1000);
  void runtime.agent.heartbeat().catch(() => undefined);
  try {
    await runtime.agent.resume();
    while (!io.stop.aborted) {
      if (!enrolled) enrolled = (await ensureEnrolled(config, runtime, log)) !== 'failed';
      const wait = runtime.source.kind === 'http' ? config.poll.waitSeconds : 0;
      const started = Date.now();
      let quick = true;
      try {
        const result = await runtime.agent.cycle(wait);
        quick = Date.now() - started < (wait * 1000) / 2 || result.kind === 'rejected';
        if (result.kind === 'deployed' && result.deployment.phase === 'confirmed') {
          const previous = result.deployment.previous?.currentSystem ?? null;
          if (await agentUnitChanged(previous, result.deployment.storePath)) {
            log.info({ host: config.host }, 'the new generation changed this agent; exiting so systemd starts the new version');
            return EXIT.ok;
          }
        }
        if (result.kind === 'deployed') quick = false;
        await runtime.agent.flushReports().catch(() => false);
      } catch (error) {
        log.warn({ host: config.host, err: errorMessage(error) }, 'poll failed');
      }
      if (quick) await waitForNextPoll(config, pollDelayMs(config), io.stop);
    }
    return EXIT.ok;
  } finally {
    clearInterval(heartbeat);
    await runtime.close();
  }
}

/** The exit code of a cycle: what state the host is in with respect to its manifest. */
function exitCodeFor(phase: string | undefined): number {
  if (phase === 'rolled-back') return EXIT.rolledBack;
  if (phase === 'failed') return EXIT.failure;
  return EXIT.ok;
}

/** One poll-and-apply cycle; the exit code says how it ended, `--json` prints it for scripts. */
export async function onceCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } });
  if (values.help === true) {
    io.out('Usage: tsdeploy-agent once --config FILE [--json]\n  one poll-and-apply cycle; exit 0 in sync or applied, 3 rejected, 4 rolled back, 1 failed\n');
    return EXIT.ok;
  }
  const config = await loadAgentConfig(requireFlag(values, 'config'));
  const log = io.logger(config);
  const runtime = await createRuntime(config, log, io.afterPersist);
  try {
    await ensureEnrolled(config, runtime, log);
    const result = await runtime.agent.cycle(0);
    await runtime.agent.flushReports().catch(() => false);
    const deployment = result.kind === 'deployed' ? result.deployment : (await readJournal(config.stateDir)).deployment;
    const code = result.kind === 'rejected' ? EXIT.rejected : result.kind === 'no-manifest' ? EXIT.ok : exitCodeFor(deployment?.phase);
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
    switch (result.kind) {
      case 'rejected':
        io.err(`rejected: ${result.error}\n`);
        break;
      case 'no-manifest':
        io.err(`no manifest published for ${config.host}\n`);
        break;
      case 'deployed':
        io.err(`version ${result.deployment.version}: ${result.deployment.phase}${result.deployment.reason === null ? '' : ` (${result.deployment.reason})`}\n`);
        break;
      case 'unchanged':
        break;
    }
    return code;
  } finally {
    await runtime.close();
  }
}

export async function rollbackCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { config } = await configFrom(args);
  if (config === null) {
    io.out('Usage: tsdeploy-agent rollback --config FILE\n  return to the generation before the current one, activate it and check its health\n');
    return EXIT.ok;
  }
  const runtime = await createRuntime(config, io.logger(config));
  try {
    const result = await runtime.agent.rollbackManually();
    await runtime.agent.flushReports().catch(() => false);
    (result.ok ? io.out : io.err)(`${result.ok ? 'rolled back' : 'rollback failed'}: ${result.detail}\n`);
    return result.ok ? EXIT.ok : EXIT.failure;
  } finally {
    await runtime.close();
  }
}

export async function statusCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } });
  if (values.help === true) {
    io.out('Usage: tsdeploy-agent status --config FILE [--json]\n');
    return EXIT.ok;
  }
  const config = await loadAgentConfig(requireFlag(values, 'config'));
  const nix = createNix({ log: io.logger(config), realiseTimeoutMs: 1000, activateTimeoutMs: 1000 });
  const journal = await readJournal(config.stateDir);
  const profile = await nix.readProfile(config.profile);
  const status = {
    host: config.host,
    currentSystem: await nix.currentSystem(),
    bootedSystem: await nix.bootedSystem(),
    profile: config.profile,
    generation: profile?.generation ?? null,
    profilePath: profile?.path ?? null,
    lastAccepted: journal.lastAccepted,
    deployment: journal.deployment,
    lastHealth: journal.lastHealth,
    failedVersions: journal.failedVersions,
  };
  if (values.json === true) {
    io.out(`${JSON.stringify(status, null, 2)}\n`);
    return EXIT.ok;
  }
  const d = journal.deployment;
  const lines = [
    `host:            ${status.host}`,
    `current system:  ${status.currentSystem ?? '-'}`,
    `booted system:   ${status.bootedSystem ?? '-'}`,
    `profile:         ${status.profile} (generation ${status.generation ?? '-'})`,
    `last accepted:   ${journal.lastAccepted === null ? '-' : `version ${journal.lastAccepted.version}`}`,
    `deployment:      ${d === null ? '-' : `version ${d.version} ${d.phase} ${d.storePath}${d.reason === null ? '' : ` (${d.reason})`}`}`,
    `last health:     ${journal.lastHealth === null ? '-' : `${journal.lastHealth.ok ? 'ok' : 'FAILED'} at ${journal.lastHealth.time}`}`,
  ];
  io.out(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

export async function pubkeyCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { config } = await configFrom(args);
  if (config === null) {
    io.out('Usage: tsdeploy-agent pubkey --config FILE\n  print the agent\'s public key (generated on first use) for enrollment\n');
    return EXIT.ok;
  }
  // Only the key is needed: no source, controller client or effects.
  io.out(`${formatPublicKey(publicKeyOf(await ensureAgentKey(config.stateDir, config.host)))}\n`);
  return EXIT.ok;
}

/** Writes every queued report, oldest first, one envelope per line, for carrying to the centre. */
export async function reportsExportCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help === true) {
    io.out('Usage: tsdeploy-agent reports export --config FILE --out FILE\n  write queued signed reports (JSON lines) for `tsdeploy-controller reports import`\n');
    return EXIT.ok;
  }
  const config = await loadAgentConfig(requireFlag(values, 'config'));
  const out = requireFlag(values, 'out');
  const runtime = await createRuntime(config, io.logger(config));
  try {
    const envelopes = await runtime.outbox.list();
    const lines = envelopes.map((text) => JSON.stringify(JSON.parse(text)));
    await writeFileAtomic(out, lines.length === 0 ? '' : `${lines.join('\n')}\n`, 0o600);
    io.out(`wrote ${lines.length} report(s) to ${out}\n`);
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}

