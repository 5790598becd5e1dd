// Builds the agent's adapters and driver from its config: the one place the daemon and the one-shot commands share.
import { formatPublicKey, parsePublicKey, publicKeyOf } from '../shared/keys.js';
import type { Logger } from '../shared/log.js';
import { createControllerClient, type ControllerClient } from './adapters/controller-client.js';
import { readBootId } from './adapters/boot-id.js';
import { createRealiseProgress } from './adapters/realise-progress.js';
import { createRebootPort } from './adapters/reboot.js';
import { systemState } from './adapters/system-state.js';
import { systemdIsRunning } from './adapters/transient-activation.js';
import { hostShuttingDown } from './core/reboot.js';
import { createHostFacts, storeFilesystem } from './adapters/facts.js';
import { runChecks } from './adapters/health-checks.js';
import { ensureAgentKey } from './adapters/identity.js';
import { createJournalStore } from './adapters/journal-file.js';
import { createNix } from './adapters/nix.js';
import { createNetworkProbe } from './adapters/network-probe.js';
import { createOutbox, type Outbox } from './adapters/outbox.js';
import { createManifestSource } from './adapters/source.js';
import { createSourceList } from './adapters/sources.js';
import type { AgentConfig } from './config.js';
import type { Journal } from './core/journal.js';
import { createAgent, type Agent } from './driver.js';
import type { ManifestSource, ReportSink } from './ports.js';

export interface Runtime {
  readonly agent: Agent;
  readonly source: ManifestSource;
  readonly controller: ControllerClient | null;
  readonly outbox: Outbox;
  readonly publicKey: string;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `exclusive`: how the driver takes the state directory's lock (the daemon's); one-shot commands hold it already. */
export async function createRuntime(
  config: AgentConfig,
  log: Logger,
  afterPersist?: (journal: Journal) => Promise<void>,
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<Runtime> {
  const key = await ensureAgentKey(config.stateDir, config.host);
  const source = createSourceList(
    [config.source, ...config.mirrors].map((url) => createManifestSource({ source: url, host: config.host, timeoutSeconds: config.timeouts.fetchSeconds })),
    { onFallback: (index, error) => log.warn({ host: config.host, source: [config.source, ...config.mirrors][index], err: error }, 'manifest source failed; trying the next') },
  );
  const hostFacts = createHostFacts();
  const controller = source.kind === 'http' ? createControllerClient(config.source, config.host, config.timeouts.fetchSeconds) : null;
  const outbox = createOutbox(config.stateDir, key, config.reports.queueLimit, (msg, fields) => log.warn({ host: config.host, ...fields }, msg));
  const reports: ReportSink = {
    enqueue: (report) => outbox.enqueue(report),
    flush: () => (controller === null ? Promise.resolve(false) : outbox.flush((envelope) => controller.sendReport(envelope))),
    queued: async () => (await outbox.stats()).queued,
  };
  const agent = createAgent({
    config,
    log,
    nix: createNix({ log, realiseTimeoutMs: config.timeouts.realiseSeconds * 1000, activateTimeoutMs: config.timeouts.activateSeconds * 1000, onActivationOverrun: config.timeouts.onActivationOverrun }),
    source,
    reports,
    journal: createJournalStore(config.stateDir),
    health: {
      run: (controllerAccepts, scope) =>
        runChecks(scope === 'local' ? config.health.checks.filter((check) => check.type !== 'controller') : config.health.checks, { controllerAccepts }),
    },
    network: createNetworkProbe({
      configured: config.health.networkProbes,
      mirrors: config.mirrors,
      controller: controller === null ? null : config.source,
      timeoutMs: Math.min(config.timeouts.fetchSeconds, 10) * 1000,
      log,
    }),
    host: {
      facts: () => hostFacts().catch(() => null),
      freeBytes: async () => (await storeFilesystem())?.availableBytes ?? null,
      bootId: () => readBootId(),
      shuttingDown: async () => (await systemdIsRunning()) && hostShuttingDown(await systemState()),
    },
    clock: { now: () => new Date(), sleep },
    trustedKeys: config.trustedKeys.map((text) => parsePublicKey(text)),
    hasController: controller !== null,
    reboot: createRebootPort(),
    progress: createRealiseProgress({ stateDir: config.stateDir, log, host: config.host }),
    ...(afterPersist === undefined ? {} : { afterPersist }),
    ...(exclusive === undefined ? {} : { exclusive }),
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
