// Pure request → decision functions of the controller: publish, report intake, enrollment, long-poll parameters.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PublicKeyTextSchema } from '../shared/config-file.js';
import {
  acceptManifest,
  isRejectionError,
  EnvelopeTooLargeError,
  openEnvelope,
  parsePayload,
  SignatureError,
  UnknownPayloadTypeError,
  VersionConflictError,
  VersionRollbackError,
  type RejectionError,
} from '../shared/accept.js';
import { decodeEnvelope, type Envelope } from '../shared/dsse.js';
import { errorMessage } from '../shared/errors.js';
import { keyFingerprint, parsePublicKey, type PublicKey } from '../shared/keys.js';
import { MANIFEST_MAX_BYTES, MANIFEST_PAYLOAD_TYPE, ManifestSchema, type Manifest } from '../shared/manifest.js';
import { REPORT_MAX_BYTES, REPORT_PAYLOAD_TYPE, ReportSchema, type Report } from '../shared/report.js';
import { HostNameSchema } from '../shared/validate.js';
import type { HostRecord, HostStatusRecord, TokenRecord } from './records.js';

/** An HTTP answer as data: status and JSON body. */
export interface Reply {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface Refusal {
  readonly kind: 'refuse';
  readonly reply: Reply;
  /** A short label for logs (`reason` of the rejection when there is one). */
  readonly reason: string;
}

function refuse(status: number, error: string, reason: string, extra: Record<string, unknown> = {}): Refusal {
  return { kind: 'refuse', reply: { status, body: { error, ...extra } }, reason };
}

/** sha256 hex of the exact bytes served: the manifest's ETag (quoted by the HTTP layer). */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// ---------------------------------------------------------------- publish

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
 * First look at an upload: size, envelope, type, signatures and payload schema, so the caller
 * learns which host it is for before taking that host's lock.
 */
export function inspectManifest(
  bytes: Uint8Array,
  trustedKeys: readonly PublicKey[],
  threshold: number,
): { kind: 'ok'; manifest: Manifest } | Refusal {
  try {
    const { payload } = openEnvelope(bytes, MANIFEST_PAYLOAD_TYPE, trustedKeys, threshold, MANIFEST_MAX_BYTES);
    return { kind: 'ok', manifest: parsePayload(payload, ManifestSchema) };
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
export function decidePublish(input: {
  bytes: Uint8Array;
  trustedKeys: readonly PublicKey[];
  threshold: number;
  current: Uint8Array | null;
  now: Date;
}): PublishDecision {
  const inspected = inspectManifest(input.bytes, input.trustedKeys, input.threshold);
  if (inspected.kind === 'refuse') return inspected;
  const { host } = inspected.manifest;
  const current = input.current === null ? null : storedManifestInfo(input.current);
  const currentVersion = current?.manifest.version ?? null;
  if (input.current !== null && Buffer.from(input.current).equals(Buffer.from(input.bytes))) {
    const m = inspected.manifest;
    return { kind: 'same', manifest: m, reply: { status: 200, body: { host, version: m.version, storePath: m.storePath, unchanged: true } } };
  }
  try {
    const result = acceptManifest({
      bytes: input.bytes,
      trustedKeys: input.trustedKeys,
      threshold: input.threshold,
      host,
      last: current === null ? null : { version: current.manifest.version, digest: current.digest },
      now: input.now,
    });
    if (result.kind === 'unchanged') {
      return refuse(
        409,
        `version ${result.manifest.version} is not greater than the current version ${currentVersion ?? 0}`,
        'version not greater',
        { currentVersion },
      );
    }
    const m = result.manifest;
    return { kind: 'store', manifest: m, reply: { status: 201, body: { host, version: m.version, storePath: m.storePath } } };
  } catch (error) {
    return manifestRefusal(error, currentVersion);
  }
}

// ---------------------------------------------------------------- reports

export type ReportDecision =
  | { readonly kind: 'accept'; readonly report: Report; readonly envelope: Envelope; readonly reply: Reply }
  | Refusal;

/** Last accepted sequence for the host's current key: a new key starts again from zero. */
export function lastSeqFor(identity: HostRecord, status: HostStatusRecord | null): number {
  return status !== null && status.publicKey === identity.publicKey ? status.lastSeq : 0;
}

/** Accepts a report only from an enrolled host, signed by its key, about itself, with a growing seq. */
export function decideReport(input: {
  host: string;
  bytes: Uint8Array;
  identity: HostRecord | null;
  status: HostStatusRecord | null;
}): ReportDecision {
  const { host, identity } = input;
  if (identity === null) return refuse(403, `host ${host} is not enrolled`, 'unknown host');
  if (identity.status !== 'enrolled') {
    return refuse(403, `host ${host} is ${identity.status === 'pending' ? 'pending approval' : 'revoked'}`, `host ${identity.status}`);
  }
  let opened: ReturnType<typeof openEnvelope>;
  try {
    opened = openEnvelope(input.bytes, REPORT_PAYLOAD_TYPE, [parsePublicKey(identity.publicKey)], 1, REPORT_MAX_BYTES);
  } catch (error) {
    if (error instanceof EnvelopeTooLargeError) return refuse(413, `report too large (${error.size} bytes > ${error.cap})`, 'too large');
    if (error instanceof SignatureError) {
      return refuse(403, `report is not signed by the key enrolled for ${host}`, 'bad signature');
    }
    if (error instanceof UnknownPayloadTypeError) return refuse(400, error.message, error.reason);
    return refuse(400, errorMessage(error), 'malformed');
  }
  let report: Report;
  try {
    report = parsePayload(opened.payload, ReportSchema);
  } catch (error) {
    return refuse(400, `report ${errorMessage(error)}`, 'malformed');
  }
  if (report.host !== host) return refuse(400, `report is for host ${report.host}, posted for ${host}`, 'wrong host');
  const lastSeq = lastSeqFor(identity, input.status);
  if (report.seq <= lastSeq) {
    return refuse(409, `report seq ${report.seq} is not greater than the last accepted ${lastSeq}`, 'replayed seq', { lastSeq });
  }
  return { kind: 'accept', report, envelope: opened.envelope, reply: { status: 202, body: { seq: report.seq } } };
}

// ---------------------------------------------------------------- enrollment

export const TokenTextSchema = z.string().min(16).max(256).regex(/^[A-Za-z0-9_-]+$/, 'not an enrollment token');

export const EnrollRequestSchema = z
  .object({
    host: HostNameSchema,
    publicKey: PublicKeyTextSchema,
    token: TokenTextSchema.optional(),
  })
  .strict();
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

/** Tokens are looked up by their sha256, so the state directory never holds one in clear. */
export function tokenHash(token: string): string {
  return sha256Hex(token);
}

function sameKey(a: string, b: string): boolean {
  return keyFingerprint(parsePublicKey(a)) === keyFingerprint(parsePublicKey(b));
}

export interface EnrollDecision {
  readonly reply: Reply;
  /** What to write, token first: a consumed token is bound to the key, so a crash between the two writes heals on retry. */
  readonly writeToken: TokenRecord | null;
  readonly writeIdentity: HostRecord | null;
  readonly reason: string;
}

function enrollReply(status: number, body: Record<string, unknown>, reason: string, writes: Partial<Pick<EnrollDecision, 'writeToken' | 'writeIdentity'>> = {}): EnrollDecision {
  return { reply: { status, body }, reason, writeToken: writes.writeToken ?? null, writeIdentity: writes.writeIdentity ?? null };
}

/**
 * Key exchange: a valid one-time token bound to the host enrolls at once; no token records a
 * pending request for `hosts approve`. Retries by an agent that is already enrolled get 200.
 */
export function decideEnroll(input: {
  request: EnrollRequest;
  identity: HostRecord | null;
  token: TokenRecord | null;
  now: Date;
}): EnrollDecision {
  const { request, identity, token, now } = input;
  const { host, publicKey } = request;
  const iso = now.toISOString();
  if (identity !== null && identity.revokedKeys.some((key) => sameKey(key, publicKey))) {
    return enrollReply(403, { error: `this key was revoked for ${host}; the agent must make a new key` }, 'revoked key');
  }
  if (identity?.status === 'enrolled') {
    if (sameKey(identity.publicKey, publicKey)) return enrollReply(200, { status: 'enrolled' }, 'already enrolled');
    return enrollReply(409, { error: `${host} is enrolled with another key; revoke it first (hosts revoke ${host})` }, 'other key enrolled');
  }
  const enrolled: HostRecord = {
    host,
    status: 'enrolled',
    publicKey,
    requestedAt: identity?.status === 'pending' ? identity.requestedAt : iso,
    enrolledAt: iso,
    enrolledVia: 'token',
    revokedAt: identity?.revokedAt ?? null,
    revokedKeys: identity?.revokedKeys ?? [],
  };
  if (request.token !== undefined) {
    if (token === null) return enrollReply(403, { error: 'unknown enrollment token' }, 'unknown token');
    if (token.host !== host) return enrollReply(403, { error: 'enrollment token is for another host' }, 'other host token');
    if (token.usedAt !== null) {
      if (token.usedByKey !== null && sameKey(token.usedByKey, publicKey)) {
        return enrollReply(201, { status: 'enrolled' }, 'enrolled (completed)', { writeIdentity: enrolled });
      }
      return enrollReply(403, { error: 'enrollment token was already used' }, 'reused token');
    }
    if (Date.parse(token.expiresAt) <= now.getTime()) {
      return enrollReply(403, { error: `enrollment token expired at ${token.expiresAt}` }, 'expired token');
    }
    return enrollReply(201, { status: 'enrolled' }, 'enrolled', {
      writeToken: { ...token, usedAt: iso, usedByKey: publicKey },
      writeIdentity: enrolled,
    });
  }
  if (identity?.status === 'pending') {
    if (sameKey(identity.publicKey, publicKey)) return enrollReply(202, { status: 'pending' }, 'still pending');
    return enrollReply(
      409,
      { error: `another key is pending approval for ${host}; an operator can drop it with hosts revoke ${host}` },
      'other key pending',
    );
  }
  return enrollReply(202, { status: 'pending' }, 'pending', {
    writeIdentity: {
      host,
      status: 'pending',
      publicKey,
      requestedAt: iso,
      enrolledAt: null,
      enrolledVia: null,
      revokedAt: identity?.revokedAt ?? null,
      revokedKeys: identity?.revokedKeys ?? [],
    },
  });
}

// ---------------------------------------------------------------- long-poll

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
