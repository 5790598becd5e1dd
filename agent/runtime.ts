// Builds the agent's effects from its config: the one place the daemon and the one-shot commands share.
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { schedule, validate } from 'node-cron';
import { writeFileAtomic } from '../shared/files.js';
import { formatPublicKey, parsePublicKey, publicKeyOf } from '../shared/keys.js';
import type { Logger } from '../shared/log.js';
import { createAgent, type AgentCore } from './agent.js';
import type { AgentConfig } from './config.js';
import type { Journal } from './journal.js';
import { createControllerClient, type ControllerClient } from './controller-client.js';
import { hostFacts, storeFilesystem } from './facts.js';
import { ensureAgentKey } from './identity.js';
import { createNix } from './nix.js';
import { createOutbox, type Outbox } from './outbox.js';
import { createManifestSource, type ManifestSource } from './source.js';

export interface Runtime {
  readonly agent: AgentCore;
  readonly source: ManifestSource;
  readonly controller: ControllerClient | null;
  readonly outbox: Outbox;
  readonly publicKey: string;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function createRuntime(
  config: AgentConfig,
  log: Logger,
  afterPersist?: (journal: Journal) => Promise<void>,
): Promise<Runtime> {
  const key = await ensureAgentKey(config.stateDir, config.host);
  const source = createManifestSource({ source: config.source, host: config.host, timeoutSeconds: config.timeouts.fetchSeconds });
  const controller = source.kind === 'http' ? createControllerClient(config.source, config.host, config.timeouts.fetchSeconds) : null;
  const outbox = createOutbox(config.stateDir, key, config.reports.queueLimit, (msg, fields) => log.warn({ host: config.host, ...fields }, msg));
  const nix = createNix({
    log,
    realiseTimeoutMs: config.timeouts.realiseSeconds * 1000,
    activateTimeoutMs: config.timeouts.activateSeconds * 1000,
  });
  const agent = createAgent({
    config,
    log,
    nix,
    source,
    controller,
    outbox,
    trustedKeys: config.trustedKeys.map((text) => parsePublicKey(text)),
    now: () => new Date(),
    sleep,
    facts: () => hostFacts().catch(() => null),
    freeBytes: async () => (await storeFilesystem())?.availableBytes ?? null,
    ...(afterPersist === undefined ? {} : { afterPersist }),
  });
  return {
    agent,
    source,
    controller,
    outbox,
    publicKey: formatPublicKey(publicKeyOf(key)),
    async close() {
      await source.close();
      await controller?.close();
    },
  };
}

/** Enrolls the agent's key once; remembers success in the state directory. */
export async function ensureEnrolled(config: AgentConfig, runtime: Runtime, log: Logger): Promise<'enrolled' | 'pending' | 'failed' | 'not-needed'> {
  if (runtime.controller === null) return 'not-needed';
  const marker = join(config.stateDir, 'enrolled');
  const recorded = await readFile(marker, 'utf8').catch(() => null);
  if (recorded?.trim() === runtime.publicKey) return 'enrolled';
  const token = config.enrollmentTokenFile === undefined ? null : (await readFile(config.enrollmentTokenFile, 'utf8').catch(() => null))?.trim() ?? null;
  const result = await runtime.controller.enroll(runtime.publicKey, token === '' ? null : token);
  switch (result.kind) {
    case 'enrolled':
      await writeFileAtomic(marker, `${runtime.publicKey}\n`, 0o600);
      log.info({ host: config.host }, 'enrolled with the controller');
      return 'enrolled';
    case 'pending':
      log.info({ host: config.host, publicKey: runtime.publicKey }, 'enrollment pending: approve with `tsdeploy-controller hosts approve`');
      return 'pending';
    case 'refused':
      log.error({ host: config.host, status: result.status, error: result.error }, 'enrollment refused');
      return 'failed';
    case 'unreachable':
      log.warn({ host: config.host, error: result.error }, 'controller unreachable for enrollment; will retry');
      return 'failed';
  }
}

/** True when a confirmed switch changed the agent's own unit: the daemon then exits so systemd starts the new one. */
export async function agentUnitChanged(previousSystem: string | null, newSystem: string): Promise<boolean> {
  if (previousSystem === null || previousSystem === newSystem) return false;
  const unit = (system: string) => realpath(join(system, 'etc/systemd/system/tsdeploy-agent.service')).catch(() => null);
  const [before, after] = await Promise.all([unit(previousSystem), unit(newSystem)]);
  return before !== after;
}

/** The delay before the next poll of a static source: the interval plus random jitter. */
export function pollDelayMs(config: AgentConfig, random: () => number = Math.random): number {
  return (config.poll.intervalSeconds + random() * config.poll.jitterSeconds) * 1000;
}

/** Resolves at the next cron tick, or after `fallbackMs` when no cron expression is set. */
export function waitForNextPoll(config: AgentConfig, fallbackMs: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const cronExpression = config.poll.cron;
    let timer: NodeJS.Timeout | undefined;
    let task: { stop: () => void } | undefined;
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      task?.stop();
      stop.removeEventListener('abort', done);
      resolve();
    };
    stop.addEventListener('abort', done, { once: true });
    if (cronExpression !== undefined && validate(cronExpression)) {
      const scheduled = schedule(cronExpression, done);
      task = { stop: () => void scheduled.stop() };
    } else {
      timer = setTimeout(done, fallbackMs);
    }
  });
}

