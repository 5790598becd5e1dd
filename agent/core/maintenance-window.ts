// The maintenance window: when a cron expression's tick plus a duration says a reboot may happen. Pure (the
// expression arrives parsed into its fields; times are the host's local time, as node-cron schedules them).

/** A cron expression's fields as node-cron's `parse` gives them: every value each field allows. */
export interface CronFields {
  readonly second: readonly number[];
  readonly minute: readonly number[];
  readonly hour: readonly number[];
  readonly dayOfMonth: readonly number[];
  /** 1–12. */
  readonly month: readonly number[];
  /** 0–6, Sunday 0. */
  readonly dayOfWeek: readonly number[];
}

export interface WindowSpec {
  readonly fields: CronFields;
  readonly durationMs: number;
}

export interface OpenWindow {
  readonly start: Date;
  readonly end: Date;
}

/** How far ahead a tick is looked for: five years, so a 29 February expression is found. */
const HORIZON_DAYS = 5 * 366;

const sorted = (values: readonly number[]): number[] => [...new Set(values)].sort((a, b) => a - b);

/** The first tick of `fields` at or after `from` (whole seconds), or null when none comes within five years. */
export function nextTick(fields: CronFields, from: Date): Date | null {
  const start = new Date(Math.ceil(from.getTime() / 1000) * 1000);
  const hours = sorted(fields.hour);
  const minutes = sorted(fields.minute);
  const seconds = sorted(fields.second);
  const y = start.getFullYear();
  const m = start.getMonth();
  const d = start.getDate();
  for (let offset = 0; offset < HORIZON_DAYS; offset += 1) {
    const day = new Date(y, m, d + offset);
    if (!fields.month.includes(day.getMonth() + 1) || !fields.dayOfMonth.includes(day.getDate()) || !fields.dayOfWeek.includes(day.getDay())) continue;
    const first = offset === 0;
    for (const hour of hours) {
      if (first && hour < start.getHours()) continue;
      for (const minute of minutes) {
        if (first && hour === start.getHours() && minute < start.getMinutes()) continue;
        for (const second of seconds) {
          const tick = new Date(day.getFullYear(), day.getMonth(), day.getDate(), hour, minute, second);
          // A local time that does not exist (a DST gap) comes out shifted: not a tick of the expression.
          if (tick.getHours() !== hour || tick.getMinutes() !== minute) continue;
          if (tick.getTime() >= start.getTime()) return tick;
        }
      }
    }
  }
  return null;
}

/** The window open at `now` (a tick within the last `durationMs`, up to the tick plus the duration), or null. */
export function windowAt(window: WindowSpec, now: Date): OpenWindow | null {
  const tick = nextTick(window.fields, new Date(now.getTime() - window.durationMs + 1));
  if (tick === null || tick.getTime() > now.getTime()) return null;
  return { start: tick, end: new Date(tick.getTime() + window.durationMs) };
}

/** When the next window opens after `now`, or null when the expression never ticks again. */
export function nextOpening(window: WindowSpec, now: Date): Date | null {
  return nextTick(window.fields, new Date(now.getTime() + 1));
}
