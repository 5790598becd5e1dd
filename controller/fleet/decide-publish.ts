// Pure publish decision: a verified manifest against what the host has now, with the agent's own rules.
import {
  isRejectionError,
  judgeManifest,
  VersionConflictError,
  VersionRollbackError,
  type RejectionError,
} from '../../shared/accept.js';
import { sha256Hex } from '../../shared/digest.js';
import {
  decodeEnvelope,
  EnvelopeTooLargeError,
  parsePayload,
  SignatureError,
  UnknownPayloadTypeError,
} from '../../shared/dsse.js';
import type { PublicKey } from '../../shared/keys.js';
import { ManifestSchema, type Manifest } from '../../shared/manifest.js';
import { refuse, type Refusal, type Reply } from './reply.js';
import { verifyManifest, type VerifiedManifest } from './verify-manifest.js';

/** HTTP status for each way a manifest upload can be refused. Expired is 400: the sender must re-sign. */
export function manifestRefusalStatus(error: RejectionError): number {
  if (error instanceof EnvelopeTooLargeError) return 413;
  if (error instanceof UnknownPayloadTypeError || error instanceof SignatureError) return 403;
  if (error instanceof VersionRollbackError || error instanceof VersionConflictError) return 409;
  // Malformed, bad store path, expired, wrong host: the sender must fix and re-sign.
  return 400;
}

function manifestRefusal(error: unknown, currentVersion: number | null): Refusal {
  if (!isRejectionError(error)) throw error;
  const status = manifestRefusalStatus(error);
  return refuse(status, error.message, error.reason, status === 409 ? { currentVersion } : {});
}

/**
 * First look at an upload: verifies it (see verifyManifest), so the caller learns which host it
 * is for before taking that host's lock, and holds the proof for decidePublish.
 */
export function inspectManifest(
  bytes: Uint8Array,
  trustedKeys: readonly PublicKey[],
  threshold: number,
): { kind: 'ok'; verified: VerifiedManifest } | Refusal {
  try {
    return { kind: 'ok', verified: verifyManifest(bytes, trustedKeys, threshold) };
  } catch (error) {
    return manifestRefusal(error, null);
  }
}

/** Version and payload digest of a stored manifest; it was verified when stored, so no keys are needed. */
export function storedManifestInfo(bytes: Uint8Array): { manifest: Manifest; digest: string } {
  const envelope = decodeEnvelope(bytes);
  const payload = new Uint8Array(Buffer.from(envelope.payload, 'base64'));
  return { manifest: parsePayload(payload, ManifestSchema), digest: sha256Hex(payload) };
}

export type PublishDecision =
  | { readonly kind: 'store'; readonly manifest: Manifest; readonly reply: Reply }
  | { readonly kind: 'same'; readonly manifest: Manifest; readonly reply: Reply }
  | Refusal;

/**
 * Decides an upload against what the host has now, with the agent's own acceptance function.
 * A byte-identical re-upload is answered 200 (a publisher retrying after a lost answer);
 * anything else whose version does not grow is 409.
 */
export function decidePublish(input: { verified: VerifiedManifest; current: Uint8Array | null; now: Date }): PublishDecision {
  const { verified } = input;
  const m = verified.manifest;
  const { host } = m;
  const current = input.current === null ? null : storedManifestInfo(input.current);
  const currentVersion = current?.manifest.version ?? null;
  if (input.current !== null && Buffer.from(input.current).equals(Buffer.from(verified.bytes))) {
    return { kind: 'same', manifest: m, reply: { status: 200, body: { host, version: m.version, storePath: m.storePath, unchanged: true } } };
  }
  try {
    const last = current === null ? null : { version: current.manifest.version, digest: current.digest };
    const result = judgeManifest(verified, host, last, input.now);
    if (result.kind === 'unchanged') {
      return refuse(
        409,
        `version ${result.manifest.version} is not greater than the current version ${currentVersion ?? 0}`,
        'version not greater',
        { currentVersion },
      );
    }
    return { kind: 'store', manifest: m, reply: { status: 201, body: { host, version: m.version, storePath: m.storePath } } };
  } catch (error) {
    return manifestRefusal(error, currentVersion);
  }
}
