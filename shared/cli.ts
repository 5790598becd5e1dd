// Shared CLI plumbing: flag parsing with one-line errors, and the top-level error printer.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage, isUserError, UserError } from './errors.js';

export class UsageError extends UserError {
  override name = 'UsageError' as const;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses flags strictly; an unknown or malformed flag becomes a UsageError naming it. */
export function parseFlags<T extends Options>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(errorMessage(error).split('\n')[0] ?? 'invalid arguments');
  }
}

/** Returns a required string flag or throws a UsageError naming it. */
export function requireFlag(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`missing required option --${name}`);
  return value;
}

/** Returns an optional string flag. */
export function optionalFlag(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Parses a positive integer flag value. */
export function parsePositiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw new UsageError(`--${flag} must be a positive integer, got "${text}"`);
  }
  return Number(text);
}

/** Exit codes shared by both programs, documented in the README. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  rejected: 3,
  rolledBack: 4,
} as const;

/**
 * Runs a CLI's main function: user errors print one line to stderr, anything else prints its
 * stack (a bug), and the process exits with the code main returned.
 */
export async function runCli(program: string, main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (error) {
    if (isUserError(error)) {
      process.stderr.write(`${program}: ${error.message}\n`);
      process.exitCode = error instanceof UsageError ? EXIT.usage : EXIT.failure;
    } else {
      process.stderr.write(`${program}: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.failure;
    }
  }
}
