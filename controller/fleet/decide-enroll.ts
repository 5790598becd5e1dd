// Pure enrollment decision: token, pending request or retry, with the records to write.
import { z } from 'zod';
import { PublicKeyTextSchema } from '../../shared/config-file.js';
import { sha256Hex } from '../../shared/digest.js';
import { RejectedInputError } from '../../shared/errors.js';
import { keyFingerprint, parsePublicKey } from '../../shared/keys.js';
import { HostNameSchema } from '../../shared/validate.js';
import type { HostRecord, TokenRecord } from '../storage/records.js';
import type { Reply } from './reply.js';

export const TokenTextSchema = z.string().min(16).max(256).regex(/^[A-Za-z0-9_-]+$/, 'not an enrollment token');

export const EnrollRequestSchema = z
  .object({
    host: HostNameSchema,
    publicKey: PublicKeyTextSchema,
    token: TokenTextSchema.optional(),
  })
  .strict();
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

/** An enrollment request body that is not JSON or does not fit EnrollRequestSchema (answered 400). */
export class EnrollRequestError extends RejectedInputError {
  override name = 'EnrollRequestError' as const;
  readonly reason = 'malformed';
  constructor(readonly detail: string) {
    super(detail === 'not valid JSON' ? 'enrollment request is not valid JSON' : `invalid enrollment request: ${detail}`);
  }
}

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
  /** Set on a 429: when the client may ask again (the Retry-After header). */
  readonly retryAfterSeconds?: number;
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
    ...(identity?.history === undefined ? {} : { history: identity.history }),
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
      ...(identity?.history === undefined ? {} : { history: identity.history }),
    },
  });
}
