// Human durations ("90s", "15m", "1h", "7d") given as CLI flags.
import { OperatorError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A flag value the operator must correct: exit 2, like every other bad flag value. */
export class InvalidDurationError extends OperatorError {
  override name = 'InvalidDurationError' as const;
  constructor(readonly input: string, readonly detail = 'use a number with ms, s, m, h or d, for example 7d') {
    super(`invalid duration "${input}": ${detail}`);
  }
}

/** Parses a duration into milliseconds; refuses zero, negatives, unknown units and overflow. */
export function parseDuration(input: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(input.trim());
  const unit = match?.[2];
  if (match === null || unit === undefined) throw new InvalidDurationError(input);
  const value = Number(match[1]) * (UNITS[unit] ?? 0);
  if (value === 0) throw new InvalidDurationError(input, 'zero is not allowed; give a positive duration');
  if (!Number.isSafeInteger(value)) throw new InvalidDurationError(input, 'too large');
  return value;
}
