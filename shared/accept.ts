// The pure manifest-acceptance function: bytes in, an accepted manifest or a named refusal out. No I/O.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { countValidSignatures, decodeEnvelope, formatZodIssues, type Envelope } from './dsse.js';
import { UserError } from './errors.js';
import type { PublicKey } from './keys.js';
import { MANIFEST_MAX_BYTES, MANIFEST_PAYLOAD_TYPE, ManifestSchema, type Manifest } from './manifest.js';
import { isStorePath } from './validate.js';

/** Every refusal carries a short `reason` that reports and logs can group by. */
export abstract class RejectionError extends UserError {
  abstract readonly reason: string;
}

/** Checked before a byte is parsed, for manifests, reports and bundle indexes alike. */
export class EnvelopeTooLargeError extends RejectionError {
  override name = 'EnvelopeTooLargeError' as const;
  readonly reason = 'too large';
  constructor(readonly size: number, readonly cap: number) {
    super(`too large (${size} bytes > ${cap})`);
  }
}

export class ManifestMalformedError extends RejectionError {
  override name = 'ManifestMalformedError' as const;
  readonly reason = 'malformed';
  constructor(readonly detail: string) {
    super(`malformed: ${detail}`);
  }
}

export class UnknownPayloadTypeError extends RejectionError {
  override name = 'UnknownPayloadTypeError' as const;
  readonly reason = 'unknown payload type';
  constructor(readonly payloadType: string, readonly expected: string) {
    super(`unknown payload type "${payloadType}" (expected ${expected})`);
  }
}

export class SignatureError extends RejectionError {
  override name = 'SignatureError' as const;
  readonly reason = 'bad signature';
  constructor(readonly valid: number, readonly threshold: number) {
    super(`bad or too few signatures (${valid} valid from trusted keys, ${threshold} required)`);
  }
}

export class WrongHostError extends RejectionError {
  override name = 'WrongHostError' as const;
  readonly reason = 'wrong host';
  constructor(readonly manifestHost: string, readonly host: string) {
    super(`wrong host (manifest is for "${manifestHost}", this is "${host}")`);
  }
}

export class ManifestExpiredError extends RejectionError {
  override name = 'ManifestExpiredError' as const;
  readonly reason = 'expired';
  constructor(readonly expiresAt: string) {
    super(`expired (at ${expiresAt})`);
  }
}

export class VersionRollbackError extends RejectionError {
  override name = 'VersionRollbackError' as const;
  readonly reason = 'version rollback';
  constructor(readonly version: number, readonly lastVersion: number) {
    super(`version rollback (${version} < ${lastVersion})`);
  }
}

export class VersionConflictError extends RejectionError {
  override name = 'VersionConflictError' as const;
  readonly reason = 'version conflict';
  constructor(readonly version: number) {
    super(`version conflict (version ${version} was already accepted with other content)`);
  }
}

export class InvalidStorePathError extends RejectionError {
  override name = 'InvalidStorePathError' as const;
  readonly reason = 'store path invalid';
  constructor(readonly storePath: string) {
    super(`store path invalid (${JSON.stringify(storePath)})`);
  }
}

export function isRejectionError(error: unknown): error is RejectionError {
  return error instanceof RejectionError;
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
  return createHash('sha256').update(payload).digest('hex');
}

/**
 * Verifies an envelope of `payloadType` and returns its payload bytes, checking size, envelope shape,
 * type and signatures, in that order, before a byte of the payload is parsed.
 */
export function openEnvelope(
  bytes: Uint8Array,
  payloadType: string,
  trustedKeys: readonly PublicKey[],
  threshold: number,
  maxBytes: number,
): { envelope: Envelope; payload: Uint8Array; signers: readonly string[] } {
  if (bytes.length > maxBytes) throw new EnvelopeTooLargeError(bytes.length, maxBytes);
  let envelope: Envelope;
  try {
    envelope = decodeEnvelope(bytes, maxBytes);
  } catch (error) {
    throw new ManifestMalformedError(error instanceof Error ? error.message : String(error));
  }
  if (envelope.payloadType !== payloadType) throw new UnknownPayloadTypeError(envelope.payloadType, payloadType);
  const { count, signers } = countValidSignatures(envelope, trustedKeys);
  if (threshold < 1 || count < threshold) throw new SignatureError(count, Math.max(threshold, 1));
  return { envelope, payload: new Uint8Array(Buffer.from(envelope.payload, 'base64')), signers };
}

/** Parses verified payload bytes as JSON against `schema`. */
export function parsePayload<T>(payload: Uint8Array, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw new ManifestMalformedError('payload is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ManifestMalformedError(formatZodIssues(parsed.error));
  return parsed.data;
}

/** Decides whether a host takes a manifest. Throws a `RejectionError` naming why not. */
export function acceptManifest(input: AcceptInput): AcceptResult {
  const { payload, signers } = openEnvelope(
    input.bytes,
    MANIFEST_PAYLOAD_TYPE,
    input.trustedKeys,
    input.threshold,
    input.maxBytes ?? MANIFEST_MAX_BYTES,
  );
  const manifest = parsePayload(payload, ManifestSchema);
  if (!isStorePath(manifest.storePath)) throw new InvalidStorePathError(manifest.storePath);
  if (Date.parse(manifest.expiresAt) <= Date.parse(manifest.issuedAt)) {
    throw new ManifestMalformedError('expiresAt is not after issuedAt');
  }
  if (manifest.host !== input.host) throw new WrongHostError(manifest.host, input.host);
  const digest = payloadDigest(payload);
  const last = input.last;
  if (last !== null) {
    if (manifest.version < last.version) throw new VersionRollbackError(manifest.version, last.version);
    if (manifest.version === last.version) {
      if (last.digest !== null && digest !== last.digest) throw new VersionConflictError(manifest.version);
      return { kind: 'unchanged', manifest, digest };
    }
  }
  if (Date.parse(manifest.expiresAt) <= input.now.getTime()) throw new ManifestExpiredError(manifest.expiresAt);
  return { kind: 'accepted', manifest, digest, signers };
}
