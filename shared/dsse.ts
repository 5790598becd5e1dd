// DSSE envelopes: signatures over PAE(payloadType, payload), verified over the exact bytes before parsing.
import { z } from 'zod';
import { RejectedInputError } from './errors.js';
import { parseJson } from './json.js';
import { keyFingerprint, signBytes, verifyBytes, type PublicKey, type SecretKey } from './keys.js';

/**
 * Standard base64 exactly as Node writes it: padded, no URL-safe letters, zero padding bits. Any other
 * spelling of the same bytes is refused, so one signed payload has one encoding.
 */
const CanonicalBase64Schema = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'is not standard base64')
  .refine((text) => Buffer.from(text, 'base64').toString('base64') === text, { message: 'is not canonical base64' });

export const EnvelopeSchema = z
  .object({
    payloadType: z.string().min(1).max(256),
    // No length here: every caller caps the envelope's bytes before decoding it.
    payload: CanonicalBase64Schema,
    signatures: z
      .array(
        z
          .object({
            keyid: z.string().max(256).optional(),
            sig: z.string().max(512).pipe(CanonicalBase64Schema),
          })
          .strict(),
      )
      .min(1)
      .max(16),
  })
  .strict();
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** DSSE pre-authentication encoding: binds the type to the payload so neither can be swapped. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const header = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return Buffer.concat([header, payload]);
}

/** Signs `payload` with every key given, in order. */
export function signEnvelope(payloadType: string, payload: Uint8Array, keys: readonly SecretKey[]): Envelope {
  const message = pae(payloadType, payload);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: keys.map((key) => ({ keyid: key.name, sig: Buffer.from(signBytes(key, message)).toString('base64') })),
  };
}

/** Serialises an envelope the way every tsdeploy tool writes it. */
export function encodeEnvelope(envelope: Envelope): string {
  return `${JSON.stringify(envelope, null, 2)}\n`;
}

/** Envelopes larger than this are refused by decodeEnvelope unless the caller allows more. */
export const DEFAULT_ENVELOPE_MAX_BYTES = 1024 * 1024;

/** Checked before a byte is parsed, for manifests, reports and bundle indexes alike. */
export class EnvelopeTooLargeError extends RejectedInputError {
  override name = 'EnvelopeTooLargeError' as const;
  readonly reason = 'too large';
  constructor(readonly size: number, readonly cap: number) {
    super(`too large (${size} bytes > ${cap})`);
  }
}

/** Not a DSSE envelope: not JSON, or not the envelope's shape. */
export class EnvelopeMalformedError extends RejectedInputError {
  override name = 'EnvelopeMalformedError' as const;
  readonly reason = 'malformed';
  constructor(readonly detail: string) {
    super(`malformed: ${detail}`);
  }
}

/** A payload that is not JSON of the expected schema, after its signatures were counted. */
export class PayloadMalformedError extends RejectedInputError {
  override name = 'PayloadMalformedError' as const;
  readonly reason = 'malformed';
  constructor(readonly detail: string) {
    super(`malformed: ${detail}`);
  }
}

export class UnknownPayloadTypeError extends RejectedInputError {
  override name = 'UnknownPayloadTypeError' as const;
  readonly reason = 'unknown payload type';
  constructor(readonly payloadType: string, readonly expected: string) {
    super(`unknown payload type "${payloadType}" (expected ${expected})`);
  }
}

export class SignatureError extends RejectedInputError {
  override name = 'SignatureError' as const;
  readonly reason = 'bad signature';
  constructor(readonly valid: number, readonly threshold: number) {
    super(`bad or too few signatures (${valid} valid from trusted keys, ${threshold} required)`);
  }
}

/** Parses envelope JSON; the payload stays opaque bytes until its signatures have been counted. */
export function decodeEnvelope(bytes: Uint8Array, maxBytes = DEFAULT_ENVELOPE_MAX_BYTES): Envelope {
  if (bytes.length > maxBytes) throw new EnvelopeTooLargeError(bytes.length, maxBytes);
  return parseJson(bytes, EnvelopeSchema, (detail) =>
    new EnvelopeMalformedError(detail === 'not valid JSON' ? 'envelope is not valid JSON' : `envelope is malformed: ${detail}`),
  );
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
  const envelope = decodeEnvelope(bytes, maxBytes);
  if (envelope.payloadType !== payloadType) throw new UnknownPayloadTypeError(envelope.payloadType, payloadType);
  const { count, signers } = countValidSignatures(envelope, trustedKeys);
  if (threshold < 1 || count < threshold) throw new SignatureError(count, Math.max(threshold, 1));
  return { envelope, payload: new Uint8Array(Buffer.from(envelope.payload, 'base64')), signers };
}

/** Parses verified payload bytes as JSON against `schema`. */
export function parsePayload<T>(payload: Uint8Array, schema: z.ZodType<T>): T {
  return parseJson(payload, schema, (detail) => new PayloadMalformedError(detail === 'not valid JSON' ? 'payload is not valid JSON' : detail));
}

/**
 * Counts the distinct trusted keys with a valid signature over PAE(type, payload).
 * `keyid` is only a hint: every signature is tried against every trusted key.
 */
export function countValidSignatures(envelope: Envelope, trusted: readonly PublicKey[]): { count: number; signers: string[] } {
  const message = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  const seen = new Set<string>();
  const signers: string[] = [];
  for (const key of trusted) {
    const fingerprint = keyFingerprint(key);
    if (seen.has(fingerprint)) continue;
    const ok = envelope.signatures.some((signature) =>
      verifyBytes(key, message, new Uint8Array(Buffer.from(signature.sig, 'base64'))),
    );
    if (ok) {
      seen.add(fingerprint);
      signers.push(key.name);
    }
  }
  return { count: seen.size, signers };
}

export { formatZodIssues } from './json.js';
