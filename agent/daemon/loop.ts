// The daemon loop: resume, enroll, heartbeat, then long-poll (controller) or poll on schedule (mirror, file://).
import { errorMessage, EXIT } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AgentConfig } from '../config.js';
import type { Journal } from '../core/journal.js';
import { writeAgentMetrics } from '../adapters/metrics-file.js';
import { whileHoldingStateLock } from '../adapters/state-lock.js';
import { createRuntime } from '../runtime.js';
import { enrollmentSettled, ensureEnrolled } from './enrollment.js';
import { pollDelayMs, waitForNextPoll } from './schedule.js';
import { agentUnitChanged } from './self-restart.js';
import { readBootFiles } from '../adapters/boot-files.js';
import { rebootNeeded } from '../core/reboot.js';
import { nextLookDelayMs } from '../core/next-look.js';


/** Runs until `stop` aborts, or until a confirmed switch replaced the agent's own unit (systemd restarts it). */
export async function runDaemon(config: AgentConfig, log: Logger, stop: AbortSignal, afterPersist?: (journal: Journal) => Promise<void>): Promise<number> {
  // The state directory's lock is taken for each resume and deployment, not while waiting for a manifest:
  // an operator's `rollback` or `once` runs between deployments, and is refused during one.
  const exclusive = <T>(fn: () => Promise<T>) =>
    whileHoldingStateLock(config.stateDir, 'run', fn, {
      onWait: (holder) => log.info({ host: config.host, pid: holder.pid, command: holder.command }, 'waiting for another tsdeploy-agent to finish'),
    });
  const runtime = await createRuntime(config, log, afterPersist, exclusive);
  log.info({ host: config.host, source: config.source, publicKey: runtime.publicKey }, 'agent starting');
  let enrolled = false;
  let enrolling: Promise<void> | null = null;
  /** Enrollment runs beside the polls: a controller that does not answer it never holds a deployment from a mirror. */
  const enroll = (): void => {
    if (enrolled || enrolling !== null) return;
    enrolling = ensureEnrolled(config, runtime, log)
      .then(
        (state) => void (enrolled = enrollmentSettled(state)),
        (error: unknown) => log.warn({ host: config.host, err: errorMessage(error) }, 'enrollment failed'),
      )
      .finally(() => void (enrolling = null));
  };
  enroll();
  const textfile = config.metrics?.textfile;
  const metrics = async () => {
    if (textfile !== undefined) await writeAgentMetrics(textfile, config.host, await runtime.agent.journal());
  };
  const beat = () => {
    void runtime.agent.heartbeat().catch((error: unknown) => log.warn({ err: errorMessage(error) }, 'heartbeat failed'));
    void metrics().catch((error: unknown) => log.warn({ err: errorMessage(error) }, 'writing metrics failed'));
  };
  const heartbeat = setInterval(beat, config.reports.heartbeatSeconds * 1000);
  beat();
  try {
    await runtime.agent.resume();
    while (!stop.aborted) {
      enroll();
      // A reboot waiting for its window or delay, or an activation held for its window, is looked at again when
      // that ends, not a whole long-poll (or a poll.cron tick) later.
      const journal = await runtime.agent.journal();
      const check = nextLookDelayMs(journal, new Date());
      const longPoll = runtime.source.kind === 'http' ? config.poll.waitSeconds : 0;
      const wait = check === null ? longPoll : Math.min(longPoll, Math.ceil(check / 1000));
      const started = Date.now();
      let quick = true;
      try {
        const result = await runtime.agent.cycle(wait);
        quick = Date.now() - started < (wait * 1000) / 2 || result.kind === 'rejected';
        if (result.kind === 'deployed' && result.deployment.phase === 'confirmed') {
          const reboot = rebootNeeded(await readBootFiles('/run/booted-system'), await readBootFiles(result.deployment.storePath));
          if (reboot.needed && config.reboot === 'never') log.info({ host: config.host, storePath: result.deployment.storePath, changed: reboot.changed }, 'a reboot is needed to run this generation fully');
          const previous = result.deployment.previous?.currentSystem ?? null;
          if (await agentUnitChanged(previous, result.deployment.storePath)) {
            log.info({ host: config.host }, 'the new generation changed this agent; exiting so systemd starts the new version');
            return EXIT.ok;
          }
        }
        if (result.kind === 'deployed') {
          quick = false;
          await metrics().catch((error: unknown) => log.warn({ err: errorMessage(error) }, 'writing metrics failed'));
        }
        // Delivery goes on in the background: a controller that never answers must not hold the next poll.
        void runtime.agent.flushReports().catch(() => false);
      } catch (error) {
        log.warn({ host: config.host, err: errorMessage(error) }, 'poll failed');
      }
      if (quick) await waitForNextPoll(config, pollDelayMs(config), stop, check);
    }
    return EXIT.ok;
  } finally {
    clearInterval(heartbeat);
    await runtime.close();
  }
}
