// When the daemon polls next: a static source's interval with jitter, or a cron expression.
import { schedule, validate } from 'node-cron';
import type { AgentConfig } from '../config.js';

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

