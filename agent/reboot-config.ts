// The config's windows and reboot settings (`reboot`, `maintenanceWindow`, `rebootDelay`, `activationWindow`) and the
// core's policies made from them.
import { parse as parseCron, validate as validateCron } from 'node-cron';
import { z } from 'zod';
import { InvalidDurationError, parseDuration } from '../shared/duration.js';
import { nextTick, type CronFields, type WindowSpec } from './core/maintenance-window.js';
import { NO_REBOOTS, type RebootPolicy } from './core/reboot-gate.js';

/** Longest maintenance window and reboot delay: a week. */
const MAX_MS = 7 * 86_400_000;

/** node-cron's fields as numbers; null when the expression uses what the window does not follow (`L`, `#`). */
export function cronFields(expression: string): CronFields | null {
  if (!validateCron(expression)) return null;
  const parsed = parseCron(expression);
  const numbers = (values: readonly (number | string)[]): number[] | null => (values.every((v) => typeof v === 'number') ? (values as number[]) : null);
  const dayOfMonth = numbers(parsed.dayOfMonth);
  const dayOfWeek = numbers(parsed.dayOfWeek);
  if (dayOfMonth === null || dayOfWeek === null) return null;
  return { second: parsed.second, minute: parsed.minute, hour: parsed.hour, dayOfMonth, month: parsed.month, dayOfWeek };
}

function durationProblem(text: string, allowZero: boolean): string | null {
  if (allowZero && /^0+(ms|s|m|h|d)$/.test(text.trim())) return null;
  try {
    return parseDuration(text) > MAX_MS ? 'at most 7d' : null;
  } catch (error) {
    if (error instanceof InvalidDurationError) return error.detail;
    throw error;
  }
}

const DurationTextSchema = (allowZero: boolean) =>
  z.string().superRefine((text, ctx) => {
    const problem = durationProblem(text, allowZero);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: `not a duration like "90s", "15m" or "2h": ${problem}` });
  });

const toMs = (text: string): number => (/^0+(ms|s|m|h|d)$/.test(text.trim()) ? 0 : parseDuration(text));

export const MaintenanceWindowSchema = z
  .object({
    /** A node-cron expression (5 fields, or 6 with seconds) in the host's local time: when the window opens. */
    schedule: z.string().min(1).superRefine((text, ctx) => {
      const fields = cronFields(text);
      if (fields === null) {
        ctx.addIssue({ code: 'custom', message: `not a cron expression the window can follow: "${text}" (L and # are not supported)` });
      } else if (nextTick(fields, new Date(2024, 0, 1)) === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" never opens` });
      }
    }),
    /** How long the window stays open after each tick, e.g. "2h". */
    duration: DurationTextSchema(false),
  })
  .strict();

/** The fields AgentConfigSchema spreads in: the reboot settings and the activation window. */
export const REBOOT_CONFIG_FIELDS = {
  /** `when-needed`: a switch whose kernel, initrd or kernel modules differ from the booted system's is deployed by a reboot. */
  reboot: z.enum(['never', 'when-needed']).default('never'),
  /** When such a reboot may happen; any time when absent. */
  maintenanceWindow: MaintenanceWindowSchema.optional(),
  /** Up to this long a random delay into the window, so a fleet does not reboot at once, e.g. "10m". */
  rebootDelay: DurationTextSchema(true).default('0s'),
  /** When a realised `switch` or `test` may run on the host (same shape as `maintenanceWindow`); at once when absent. */
  activationWindow: MaintenanceWindowSchema.optional(),
};

export interface RebootConfig {
  readonly reboot: 'never' | 'when-needed';
  readonly maintenanceWindow?: { readonly schedule: string; readonly duration: string } | undefined;
  readonly rebootDelay: string;
}

/** A window expression that passed no validation reached the policy: never taken for "any time". */
export class InvalidMaintenanceWindowError extends Error {
  override name = 'InvalidMaintenanceWindowError' as const;
  constructor(
    readonly schedule: string,
    readonly field: 'maintenanceWindow' | 'activationWindow' = 'maintenanceWindow',
  ) {
    super(`${field}.schedule "${schedule}" is not a cron expression the window can follow`);
  }
}

type WindowText = NonNullable<RebootConfig['maintenanceWindow']>;

function windowSpecOf(window: WindowText, field: 'maintenanceWindow' | 'activationWindow'): WindowSpec {
  const fields = cronFields(window.schedule);
  if (fields === null) throw new InvalidMaintenanceWindowError(window.schedule, field);
  return { fields, durationMs: parseDuration(window.duration) };
}

/** The core's activation window from a validated config; null (activations run at once) when none is set. */
export function activationWindowOf(config: { readonly activationWindow?: WindowText | undefined }): WindowSpec | null {
  return config.activationWindow === undefined ? null : windowSpecOf(config.activationWindow, 'activationWindow');
}

/** The core's policy from a validated config. */
export function rebootPolicyOf(config: RebootConfig): RebootPolicy {
  if (config.reboot === 'never') return NO_REBOOTS;
  const window = config.maintenanceWindow;
  if (window === undefined) return { mode: config.reboot, window: null, delayMs: toMs(config.rebootDelay) };
  return { mode: config.reboot, window: windowSpecOf(window, 'maintenanceWindow'), delayMs: toMs(config.rebootDelay) };
}
