// The one place a manifest's signatures are checked; its result is a type nothing else can make.
import type { OpenedManifest } from '../../shared/accept.js';
import { openEnvelope, parsePayload } from '../../shared/dsse.js';
import type { PublicKey } from '../../shared/keys.js';
import { MANIFEST_MAX_BYTES, MANIFEST_PAYLOAD_TYPE, ManifestSchema } from '../../shared/manifest.js';

/** Not exported: only verifyManifest can put it on an object, so holding the brand proves the check ran. */
const verified: unique symbol = Symbol('VerifiedManifest');

/** Manifest bytes whose envelope, payload type, signatures (threshold of trusted keys) and schema were checked. */
export interface VerifiedManifest extends OpenedManifest {
  readonly [verified]: true;
  /** The exact bytes uploaded: stored and served as they are. */
  readonly bytes: Uint8Array;
}

/**
 * Checks size, envelope, payload type, signatures and payload schema, once per upload.
 * Throws the `RejectionError` of the first failed check.
 */
export function verifyManifest(bytes: Uint8Array, trustedKeys: readonly PublicKey[], threshold: number): VerifiedManifest {
  const opened = openEnvelope(bytes, MANIFEST_PAYLOAD_TYPE, trustedKeys, threshold, MANIFEST_MAX_BYTES);
  return {
    [verified]: true,
    bytes,
    manifest: parsePayload(opened.payload, ManifestSchema),
    payload: opened.payload,
    signers: opened.signers,
  };
}
