// The pure manifest-acceptance function: bytes in, an accepted manifest or a named refusal out. No I/O.
import { sha256Hex } from './digest.js';
import { EnvelopeMalformedError, openEnvelope, parsePayload, PayloadMalformedError } from './dsse.js';
import { isRejectedInputError, RejectedInputError } from './errors.js';
import type { PublicKey } from './keys.js';
import { MANIFEST_MAX_BYTES, MANIFEST_PAYLOAD_TYPE, ManifestSchema, type Manifest } from './manifest.js';
import { isStorePath } from './validate.js';

/** Every refusal carries a short `reason` that reports and logs can group by. */
export { RejectedInputError as RejectionError } from './errors.js';

export class ManifestMalformedError extends RejectedInputError {
  override name = 'ManifestMalformedError' as const;
  readonly reason = 'malformed';
  constructor(readonly detail: string) {
    super(`malformed: ${detail}`);
  }
}

export class WrongHostError extends RejectedInputError {
  override name = 'WrongHostError' as const;
  readonly reason = 'wrong host';
  constructor(readonly manifestHost: string, readonly host: string) {
    super(`wrong host (manifest is for "${manifestHost}", this is "${host}")`);
  }
}

export class ManifestExpiredError extends RejectedInputError {
  override name = 'ManifestExpiredError' as const;
  readonly reason = 'expired';
  constructor(readonly expiresAt: string) {
    super(`expired (at ${expiresAt})`);
  }
}

export class VersionRollbackError extends RejectedInputError {
  override name = 'VersionRollbackError' as const;
  readonly reason = 'version rollback';
  constructor(readonly version: number, readonly lastVersion: number) {
    super(`version rollback (${version} < ${lastVersion})`);
  }
}

export class VersionConflictError extends RejectedInputError {
  override name = 'VersionConflictError' as const;
  readonly reason = 'version conflict';
  constructor(readonly version: number) {
    super(`version conflict (version ${version} was already accepted with other content)`);
  }
}

export class InvalidStorePathError extends RejectedInputError {
  override name = 'InvalidStorePathError' as const;
  readonly reason = 'store path invalid';
  constructor(readonly storePath: string) {
    super(`store path invalid (${JSON.stringify(storePath)})`);
  }
}

export function isRejectionError(error: unknown): error is RejectedInputError {
  return isRejectedInputError(error);
}

/** What the host last accepted: a replay of anything older is refused. */
export interface LastAccepted {
  readonly version: number;
  /** sha256 (hex) of the signed payload bytes; null when unknown, so the same version counts as unchanged. */
  readonly digest: string | null;
}

export interface AcceptInput {
  readonly bytes: Uint8Array;
  readonly trustedKeys: readonly PublicKey[];
  readonly threshold: number;
  readonly host: string;
  readonly last: LastAccepted | null;
  readonly now: Date;
  readonly maxBytes?: number;
}

export type AcceptResult =
  | { readonly kind: 'accepted'; readonly manifest: Manifest; readonly digest: string; readonly signers: readonly string[] }
  | { readonly kind: 'unchanged'; readonly manifest: Manifest; readonly digest: string };

/** sha256 of the payload bytes: re-signing the same payload with more keys is not a new manifest. */
export function payloadDigest(payload: Uint8Array): string {
  return sha256Hex(payload);
}

/** Opens a manifest envelope; a malformed envelope or payload is a malformed manifest. */
function openManifest(input: AcceptInput): OpenedManifest {
  try {
    const opened = openEnvelope(input.bytes, MANIFEST_PAYLOAD_TYPE, input.trustedKeys, input.threshold, input.maxBytes ?? MANIFEST_MAX_BYTES);
    return { manifest: parsePayload(opened.payload, ManifestSchema), payload: opened.payload, signers: opened.signers };
  } catch (error) {
    if (error instanceof EnvelopeMalformedError || error instanceof PayloadMalformedError) throw new ManifestMalformedError(error.detail);
    throw error;
  }
}

/** Decides whether a host takes a manifest. Throws a `RejectionError` naming why not. */
export function acceptManifest(input: AcceptInput): AcceptResult {
  return judgeManifest(openManifest(input), input.host, input.last, input.now);
}

/** A manifest whose signatures were already checked, with its payload bytes and the keys that signed. */
export interface OpenedManifest {
  readonly manifest: Manifest;
  readonly payload: Uint8Array;
  readonly signers: readonly string[];
}

/**
 * Every check after the signatures: store path, lifetime, host, version against `last`, expiry.
 * Split out so a caller that verified the signatures once does not verify them again.
 */
export function judgeManifest(opened: OpenedManifest, host: string, last: LastAccepted | null, now: Date): AcceptResult {
  const { manifest, payload, signers } = opened;
  if (!isStorePath(manifest.storePath)) throw new InvalidStorePathError(manifest.storePath);
  if (Date.parse(manifest.expiresAt) <= Date.parse(manifest.issuedAt)) {
    throw new ManifestMalformedError('expiresAt is not after issuedAt');
  }
  if (manifest.host !== host) throw new WrongHostError(manifest.host, host);
  const digest = payloadDigest(payload);
  if (last !== null) {
    if (manifest.version < last.version) throw new VersionRollbackError(manifest.version, last.version);
    if (manifest.version === last.version) {
      if (last.digest !== null && digest !== last.digest) throw new VersionConflictError(manifest.version);
      return { kind: 'unchanged', manifest, digest };
    }
  }
  if (Date.parse(manifest.expiresAt) <= now.getTime()) throw new ManifestExpiredError(manifest.expiresAt);
  return { kind: 'accepted', manifest, digest, signers };
}
