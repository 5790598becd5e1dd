// Bounds on anonymous enrollment: a cap on pending requests, their expiry, and a rate per source address. No I/O.
import { z } from 'zod';
import type { HostRecord } from '../storage/records.js';

export const EnrollmentLimitsSchema = z
  .object({
    /** Pending requests kept at most; past it, anonymous requests for new hosts get 429 (tokens still enroll). */
    maxPending: z.number().int().min(0).max(100_000).default(100),
    /** A pending request older than this is dropped, which frees its place. */
    pendingTtlSeconds: z.number().int().positive().max(365 * 86_400).default(7 * 86_400),
    /** New pending requests one source address may make per minute. */
    perAddressPerMinute: z.number().int().positive().max(100_000).default(10),
  })
  .strict();
export type EnrollmentLimits = z.infer<typeof EnrollmentLimitsSchema>;

/** True when `record` is a pending request past its time. */
export function isExpiredPending(record: HostRecord, now: Date, ttlSeconds: number): boolean {
  return record.status === 'pending' && Date.parse(record.requestedAt) + ttlSeconds * 1000 <= now.getTime();
}

/**
 * What an expired pending request leaves: nothing, or (when keys were revoked for the host before) a
 * revoked record keeping them, so a revoked key never comes back through an expiry.
 */
export function afterExpiry(record: HostRecord): HostRecord | null {
  if (record.revokedKeys.length === 0) return null;
  return { ...record, status: 'revoked', publicKey: record.revokedKeys[record.revokedKeys.length - 1] ?? record.publicKey };
}

/** True when an anonymous request would add a pending request (rather than repeat or be refused). */
export function wouldAddPending(identity: HostRecord | null, now: Date, ttlSeconds: number): boolean {
  return identity === null || identity.status === 'revoked' || isExpiredPending(identity, now, ttlSeconds);
}

/** Refusal of a new pending request, as an HTTP answer: 429 with the seconds to wait. */
export interface PendingRefusal {
  readonly status: 429;
  readonly error: string;
  readonly retryAfterSeconds: number;
}

/** Null when one more pending request fits under the cap; else why not. */
export function pendingCapRefusal(pendingCount: number, limits: EnrollmentLimits): PendingRefusal | null {
  if (pendingCount < limits.maxPending) return null;
  return {
    status: 429,
    error: `too many pending enrollment requests (${pendingCount}); an operator approves or revokes them (hosts list), or use a token`,
    retryAfterSeconds: 3600,
  };
}

export interface AddressLimiter {
  /** Counts one new pending request from `address`; a refusal when the address is over its rate. */
  take(address: string, now: Date): PendingRefusal | null;
}

/**
 * A one-minute sliding window per address, in memory (a restart forgets it, which only ever lets more
 * through for a minute). At most `maxAddresses` are remembered; the oldest are forgotten first.
 */
export function createAddressLimiter(perMinute: number, maxAddresses = 10_000): AddressLimiter {
  const windows = new Map<string, number[]>();
  return {
    take(address, now) {
      const at = now.getTime();
      const recent = (windows.get(address) ?? []).filter((time) => time > at - 60_000);
      if (recent.length >= perMinute) {
        windows.set(address, recent);
        const retryAfterSeconds = Math.max(1, Math.ceil(((recent[0] ?? at) + 60_000 - at) / 1000));
        return { status: 429, error: `too many enrollment requests from ${address}; try again in ${retryAfterSeconds} s`, retryAfterSeconds };
      }
      windows.delete(address);
      windows.set(address, [...recent, at]);
      if (windows.size > maxAddresses) windows.delete(windows.keys().next().value ?? address);
      return null;
    },
  };
}
