// Runs async work over a list with a bound on how much is in flight: uploads, file reads at start-up.

/** A bound that is not a positive whole number. */
export class ConcurrencyLimitError extends RangeError {
  override name = 'ConcurrencyLimitError' as const;
  constructor(readonly limit: number) {
    super(`concurrency limit must be a positive whole number, got ${limit}`);
  }
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight, results in the order of `items`.
 * After the first failure no new call starts; the calls already running are let finish, then the
 * promise rejects with that first error (so nothing keeps running behind the caller's back).
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new ConcurrencyLimitError(limit);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
  return results;
}
