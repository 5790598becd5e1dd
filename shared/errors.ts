// Errors a user can act on, grouped by origin; the CLI runner turns each family into one exit code.

/**
 * Where an error came from, which decides the exit code:
 * - `operator`: the command line was wrong (unknown flag, bad flag value, missing option) → 2;
 * - `rejected`: input was refused by a rule (bad signature, rollback, expired, wrong host) → 3;
 * - `environment`: the world was not as needed (unreadable file, unreachable controller, a
 *   command that failed, an invalid config file) → 1.
 */
export type ErrorFamily = 'operator' | 'rejected' | 'environment';

/** An error whose message is meant for the operator, printed as one line without a stack trace. */
export class UserError extends Error {
  override name = 'UserError';
  readonly family: ErrorFamily = 'environment';
}

/** The operator's mistake on the command line: fix the command and run it again. */
export class OperatorError extends UserError {
  override name = 'OperatorError';
  override readonly family: ErrorFamily = 'operator';
}

/** The environment: a file, a directory, a peer or a command was not as needed. */
export class EnvironmentError extends UserError {
  override name = 'EnvironmentError';
  override readonly family: ErrorFamily = 'environment';
}

/** Input refused by a rule; `reason` is a short label that reports, logs and metrics group by. */
export abstract class RejectedInputError extends UserError {
  override readonly family: ErrorFamily = 'rejected';
  abstract readonly reason: string;
}

/** True for any error the CLI should print as one line instead of a stack trace. */
export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

export function isRejectedInputError(error: unknown): error is RejectedInputError {
  return error instanceof RejectedInputError;
}

/** Exit codes shared by both programs, documented in the README. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  rejected: 3,
  rolledBack: 4,
} as const;

/** The one rule from error to exit code: by family; anything else (a bug) is a failure. */
export function exitCodeFor(error: unknown): number {
  if (!isUserError(error)) return EXIT.failure;
  switch (error.family) {
    case 'operator':
      return EXIT.usage;
    case 'rejected':
      return EXIT.rejected;
    case 'environment':
      return EXIT.failure;
  }
}

/** The message of anything thrown, for logs and one-line reports. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A file-system call that failed where no command gave it a better name (a subdirectory of the state
 * directory made unreadable, a disk that filled up): still one line with the path, never a stack.
 */
export class FileSystemError extends EnvironmentError {
  override name = 'FileSystemError' as const;
  constructor(readonly code: string, readonly syscall: string, readonly path: string, readonly detail: string) {
    super(`cannot ${syscall} ${path}: ${detail} (${code}); check that path (permissions, owner, read-only mount, free space)`);
  }
}

/** Node's system error for a file-system call (with code, syscall and path) as a FileSystemError; else null. */
export function asFileSystemError(error: unknown): FileSystemError | null {
  if (!(error instanceof Error) || error instanceof UserError) return null;
  const { code, syscall, path } = error as { code?: unknown; syscall?: unknown; path?: unknown };
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code) || typeof syscall !== 'string' || typeof path !== 'string') return null;
  // Node's message reads "EACCES: permission denied, open '/x'": keep the words between the code and the call.
  const detail = /^E[A-Z]+: ([^,]+),/.exec(error.message)?.[1] ?? code;
  return new FileSystemError(code, syscall, path, detail);
}

/** The errno code of a Node system error (ENOENT, EACCES, …), or null. */
export function errnoCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
