// Runs switch-to-configuration in its own transient systemd unit (it outlives the agent), or directly where no
// systemd runs; the core's activation-unit module decides what each state of that unit means.
import { access } from 'node:fs/promises';
import { runCommand, type CommandResult } from '../../shared/command.js';
import { EnvironmentError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Activation } from '../../shared/manifest.js';
import type { ActivationOverrun } from '../../shared/report.js';
import { systemState as readSystemState } from './system-state.js';
import {
  ACTIVATION_UNIT,
  activationPath,
  clearUnitArgs,
  judgeUnit,
  overrunDecision,
  parseUnitShow,
  showUnitArgs,
  stoppedByShutdown,
  transientActivationArgs,
  type OverrunPolicy,
} from '../core/activation-unit.js';

/** The activation's unit failed, was stopped by the overrun policy, or vanished before its result was read. */
export class ActivationUnitError extends EnvironmentError {
  override name = 'ActivationUnitError' as const;
}

export function isActivationUnitError(error: unknown): error is ActivationUnitError {
  return error instanceof ActivationUnitError;
}

export interface TransientActivationOptions {
  readonly log: Logger;
  readonly limitMs: number;
  readonly overrun: OverrunPolicy;
  /** How often the unit's state is read while it runs. */
  readonly pollMs?: number;
  /** True when systemd is PID 1; /run/systemd/system exists by default. */
  readonly systemdRunning?: () => Promise<boolean>;
  /** Runs one activation directly, as a child of the agent (hosts without systemd, and dry-activate). */
  readonly runDirect: (systemPath: string, action: Activation) => Promise<string>;
  readonly run?: (argv: [string, ...string[]]) => Promise<CommandResult>;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** `systemctl is-system-running`'s word; "stopping" during a shutdown. */
  readonly systemState?: () => Promise<string>;
}

export const systemdIsRunning = (): Promise<boolean> => access('/run/systemd/system').then(() => true, () => false);

/**
 * Returns `activate(systemPath, action, onOverrun)`: it resolves with output (or where to read it) or throws;
 * `onOverrun` hears of each time limit a running switch passes while it is waited for.
 */
export function createTransientActivation(
  options: TransientActivationOptions,
): (systemPath: string, action: Activation, onOverrun?: (overrun: ActivationOverrun) => void) => Promise<string> {
  const { log } = options;
  const run = options.run ?? ((argv) => runCommand({ argv, timeoutMs: 60_000 }));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 500;
  const clear = async () => {
    for (const argv of clearUnitArgs()) await run(argv).catch(() => undefined);
  };
  const where = `journalctl -u ${ACTIVATION_UNIT}.service`;
  const systemState = options.systemState ?? readSystemState;

  /** Never returns: the shutdown ends this process, and the next boot's resume decides. */
  const waitForShutdown = async (systemPath: string, action: Activation): Promise<never> => {
    log.warn({ storePath: systemPath, action }, 'the host is shutting down and stopped the activation; leaving it to the next boot');
    for (;;) await sleep(60_000);
  };

  return async (systemPath, action, onOverrun) => {
    const path = activationPath(await (options.systemdRunning ?? systemdIsRunning)(), action);
    log.info({ storePath: systemPath, action, activationPath: path }, path === 'transient-unit' ? `activating in transient unit ${ACTIVATION_UNIT}.service` : 'activating directly (no systemd, or a dry activation)');
    if (path === 'direct') return options.runDirect(systemPath, action);
    let started = false;
    let waitingSince: number | null = null;
    let reported = 0;
    let foreignLogged = false;
    for (;;) {
      const verdict = judgeUnit(parseUnitShow((await run(showUnitArgs())).stdout), systemPath, action);
      switch (verdict.kind) {
        case 'absent':
          if (started && stoppedByShutdown('vanished', await systemState())) await waitForShutdown(systemPath, action);
          if (started) throw new ActivationUnitError(`the activation unit ${ACTIVATION_UNIT}.service vanished before its result was read; see ${where}`);
          await run(transientActivationArgs(systemPath, action));
          started = true;
          continue;
        case 'succeeded':
          await clear();
          log.info({ storePath: systemPath, action, resumed: !started }, 'activation unit finished successfully');
          return `switch-to-configuration ${action} succeeded; its output: ${where}`;
        case 'failed':
          if (stoppedByShutdown('failed', await systemState())) await waitForShutdown(systemPath, action);
          await clear();
          throw new ActivationUnitError(`${verdict.detail}; see ${where}`);
        case 'foreign-finished':
          log.info({ description: verdict.description }, 'clearing a finished activation unit left by another run');
          await clear();
          continue;
        case 'foreign-running':
          if (!foreignLogged) log.warn({ description: verdict.description }, 'another activation is running; waiting for it before starting ours');
          foreignLogged = true;
          await sleep(pollMs);
          continue;
        case 'running': {
          if (waitingSince === null) {
            waitingSince = now();
            if (!started) log.info({ storePath: systemPath, action }, 'the activation started before this agent restarted is still running; waiting for it');
          }
          const elapsedMs = now() - waitingSince;
          const decision = overrunDecision(elapsedMs, options.limitMs, reported, options.overrun);
          if (decision.kind === 'stop') {
            log.error({ storePath: systemPath, action }, decision.message);
            await run(['systemctl', 'stop', `${ACTIVATION_UNIT}.service`]).catch(() => undefined);
            await clear();
            throw new ActivationUnitError(decision.message);
          }
          if (decision.kind === 'report-and-wait') {
            reported += 1;
            log.error({ storePath: systemPath, action }, decision.message);
            onOverrun?.({ seconds: Math.round(elapsedMs / 1000), limitSeconds: Math.max(1, Math.round(options.limitMs / 1000)) });
          }
          await sleep(pollMs);
          continue;
        }
      }
    }
  };
}
