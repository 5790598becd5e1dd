// When the daemon polls next: a static source's interval with jitter, or a cron expression.
import { schedule, validate } from 'node-cron';
import type { AgentConfig } from '../config.js';

/** The delay before the next poll of a static source: the interval plus random jitter. */
export function pollDelayMs(config: AgentConfig, random: () => number = Math.random): number {
  return (config.poll.intervalSeconds + random() * config.poll.jitterSeconds) * 1000;
}

/** setTimeout's longest delay (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Resolves at the next cron tick, or after `fallbackMs` when no cron expression is set; in either case no later
 * than `wakeWithinMs` when given (a reboot or an activation that waits for its window to open).
 */
export function waitForNextPoll(config: AgentConfig, fallbackMs: number, stop: AbortSignal, wakeWithinMs: number | null = null): Promise<void> {
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
    const cron = cronExpression !== undefined && validate(cronExpression);
    if (cron) {
      const scheduled = schedule(cronExpression, done);
      task = { stop: () => void scheduled.stop() };
    }
    const timeout = cron ? wakeWithinMs : wakeWithinMs === null ? fallbackMs : Math.min(fallbackMs, wakeWithinMs);
    if (timeout !== null) timer = setTimeout(done, Math.min(Math.max(timeout, 0), MAX_TIMER_MS));
  });
}

