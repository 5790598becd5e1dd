// The pre-flight verdict: is there room on the Nix store for the closure? Pure.

/** What `nix-store --realise --dry-run` said it would fetch; null when nothing needs fetching. */
export interface DryRunPlan {
  readonly paths: number;
  readonly downloadBytes: number;
  readonly unpackedBytes: number;
}

/** What the driver measured before realising. */
export interface PreflightMeasure {
  readonly plan: DryRunPlan | null;
  /** Free bytes on the filesystem holding the Nix store, or null when unknown. */
  readonly freeBytes: number | null;
  /** Why the dry run failed, or null when it ran. */
  readonly dryRunError: string | null;
}

export type PreflightVerdict =
  | { readonly ok: true; readonly note: string | null }
  | { readonly ok: false; readonly error: string };

const mib = (n: number) => `${Math.ceil(n / 1048576)} MiB`;

/**
 * Refuses a closure that would leave less than `minFreeBytes` free. A failed dry run or an unknown
 * free space does not block: realise itself fails cleanly when the disk fills, and the check is a courtesy.
 */
export function preflightVerdict(measure: PreflightMeasure, minFreeBytes: number): PreflightVerdict {
  if (measure.dryRunError !== null) return { ok: true, note: `dry run failed (${measure.dryRunError}); realising without a size check` };
  const { plan, freeBytes } = measure;
  if (plan === null || freeBytes === null) return { ok: true, note: null };
  if (freeBytes < plan.unpackedBytes + minFreeBytes) {
    return {
      ok: false,
      error: `not enough space for the closure on the Nix store: needs ${mib(plan.unpackedBytes)} plus ${mib(minFreeBytes)} reserve, ${mib(freeBytes)} free`,
    };
  }
  return { ok: true, note: null };
}
