// Pure long-poll decisions for GET /v1/manifests/:host: `?wait=`, If-None-Match, answer now or wait.
import { z } from 'zod';


/** `?wait=`: whole seconds from 0 to 60, written without sign, fraction or leading zeros. */
export const WaitSchema = z
  .string()
  .regex(/^(0|[1-9]\d?)$/)
  .transform(Number)
  .pipe(z.number().int().min(0).max(60));

/** Parses `?wait=` (absent means 0), clamped to the configured maximum; null when invalid. */
export function parseWait(value: string | null, maxWaitSeconds: number): number | null {
  if (value === null) return 0;
  const parsed = WaitSchema.safeParse(value);
  return parsed.success ? Math.min(parsed.data, maxWaitSeconds) : null;
}

/** True when an If-None-Match header names `etag` (strong or weak) or is `*` and something exists. */
export function ifNoneMatchMatches(header: string | undefined, etag: string | null): boolean {
  if (header === undefined || etag === null) return false;
  return header
    .split(',')
    .map((part) => part.trim())
    .some((tag) => tag === '*' || tag.replace(/^W\//, '') === `"${etag}"`);
}

export type ManifestGetDecision =
  | { readonly kind: 'send' }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'wait'; readonly seconds: number };

/**
 * What a manifest GET gets now: the bytes when they differ from what the agent has, else a wait
 * (when asked for) until a newer manifest or the end of the wait.
 */
export function decideManifestGet(etag: string | null, ifNoneMatch: string | undefined, waitSeconds: number): ManifestGetDecision {
  const matches = ifNoneMatchMatches(ifNoneMatch, etag);
  if (etag !== null && !matches) return { kind: 'send' };
  if (waitSeconds > 0) return { kind: 'wait', seconds: waitSeconds };
  return etag === null ? { kind: 'not-found' } : { kind: 'not-modified' };
}
