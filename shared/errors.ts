// Base class for errors a user can act on: the message is one line that says what is wrong.

/** An error whose message is meant for the operator, printed without a stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

/** True for any error the CLI should print as one line instead of a stack trace. */
export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

/** The message of anything thrown, for logs and one-line reports. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
