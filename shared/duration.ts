// Human durations ("90s", "15m", "1h", "7d") used by CLI flags and configs.
import { UserError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export class InvalidDurationError extends UserError {
  override name = 'InvalidDurationError' as const;
  constructor(readonly input: string) {
    super(`invalid duration "${input}": use a number with ms, s, m, h or d, for example 7d`);
  }
}

/** Parses a duration into milliseconds; refuses zero, negatives and unknown units. */
export function parseDuration(input: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(input.trim());
  const unit = match?.[2];
  if (match === null || unit === undefined) throw new InvalidDurationError(input);
  const value = Number(match[1]) * (UNITS[unit] ?? 0);
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidDurationError(input);
  return value;
}
