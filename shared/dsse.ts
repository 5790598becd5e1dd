// DSSE envelopes: signatures over PAE(payloadType, payload), verified over the exact bytes before parsing.
import { z } from 'zod';
import { UserError } from './errors.js';
import { keyFingerprint, signBytes, verifyBytes, type PublicKey, type SecretKey } from './keys.js';

export const EnvelopeSchema = z
  .object({
    payloadType: z.string().min(1).max(256),
    // No length here: every caller caps the envelope's bytes before decoding it.
    payload: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'payload is not base64'),
    signatures: z
      .array(
        z
          .object({
            keyid: z.string().max(256).optional(),
            sig: z.string().max(512).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'sig is not base64'),
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

export class EnvelopeMalformedError extends UserError {
  override name = 'EnvelopeMalformedError' as const;
}

/** Envelopes larger than this are refused by decodeEnvelope unless the caller allows more. */
export const DEFAULT_ENVELOPE_MAX_BYTES = 1024 * 1024;

/** Parses envelope JSON; the payload stays opaque bytes until its signatures have been counted. */
export function decodeEnvelope(bytes: Uint8Array, maxBytes = DEFAULT_ENVELOPE_MAX_BYTES): Envelope {
  if (bytes.length > maxBytes) throw new EnvelopeMalformedError(`envelope is too large (${bytes.length} bytes > ${maxBytes})`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new EnvelopeMalformedError('envelope is not valid JSON');
  }
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new EnvelopeMalformedError(`envelope is malformed: ${formatZodIssues(parsed.error)}`);
  }
  return parsed.data;
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

/** One line listing zod's issues with their paths. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}
