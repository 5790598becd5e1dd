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

function millisecondsOf(input: string): { readonly ms: number } | { readonly problem: string } {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(input.trim());
  const unit = match?.[2];
  if (match === null || unit === undefined) return { problem: 'not a duration: use a number with ms, s, m, h or d, for example 7d' };
  const ms = Number(match[1]) * (UNITS[unit] ?? 0);
  if (ms === 0) return { problem: 'zero is not allowed: give a positive duration, for example 2s' };
  if (!Number.isSafeInteger(ms)) return { problem: 'too large' };
  return { ms };
}

/** What is wrong with a duration, in words for a flag's message; null when it is a good one. */
export function durationProblem(input: string): string | null {
  const parsed = millisecondsOf(input);
  return 'problem' in parsed ? parsed.problem : null;
}

/** Parses a duration into milliseconds; refuses zero, negatives, unknown units and overflow. */
export function parseDuration(input: string): number {
  const parsed = millisecondsOf(input);
  if ('problem' in parsed) throw new InvalidDurationError(input, parsed.problem.replace(/^not a duration: /, ''));
  return parsed.ms;
}
