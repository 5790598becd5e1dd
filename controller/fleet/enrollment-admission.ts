// Admission of anonymous enrollment requests: expired pending requests dropped, the cap and the per-address rate applied.
import type { Logger } from '../../shared/log.js';
import { afterExpiry, createAddressLimiter, isExpiredPending, pendingCapRefusal, wouldAddPending, type EnrollmentLimits, type PendingRefusal } from './enrollment-limits.js';
import type { HostRecord } from '../storage/records.js';
import type { ControllerStore } from '../storage/store.js';

export interface EnrollmentAdmission {
  /** True when `record` is a pending request past its time. */
  isExpired(record: HostRecord, at: Date): boolean;
  /** True when an anonymous request for a host with `identity` would add a pending request. */
  wouldAddPending(identity: HostRecord | null, at: Date): boolean;
  /** The host's record with an expired pending request dropped (from disk too); call it holding the host's lock. */
  currentIdentity(host: string, at: Date): Promise<HostRecord | null>;
  /**
   * Whether one more anonymous pending request for `host` may be made from `address`: expired requests
   * are dropped first (each under its own lock), then the cap and the address's rate decide. Null when it may.
   */
  admitPending(host: string, address: string, at: Date): Promise<PendingRefusal | null>;
}

export function createEnrollmentAdmission(deps: { store: ControllerStore; logger: Logger; limits: EnrollmentLimits }): EnrollmentAdmission {
  const { store, logger, limits } = deps;
  const addressLimiter = createAddressLimiter(limits.perAddressPerMinute);
  const isExpired = (record: HostRecord, at: Date) => isExpiredPending(record, at, limits.pendingTtlSeconds);

  async function currentIdentity(host: string, at: Date): Promise<HostRecord | null> {
    const identity = await store.readHost(host);
    if (identity === null || !isExpired(identity, at)) return identity;
    const left = afterExpiry(identity);
    if (left === null) await store.removeHost(host);
    else await store.writeHost(left);
    logger.info({ host, requestedAt: identity.requestedAt }, 'pending enrollment expired');
    return left;
  }

  return {
    isExpired,
    wouldAddPending: (identity, at) => wouldAddPending(identity, at, limits.pendingTtlSeconds),
    currentIdentity,
    async admitPending(host, address, at) {
      let pending = 0;
      for (const record of await store.listHosts()) {
        if (record.status !== 'pending' || record.host === host) continue;
        if (!isExpired(record, at)) pending += 1;
        else await store.withHostLock(record.host, () => currentIdentity(record.host, at));
      }
      return pendingCapRefusal(pending, limits) ?? addressLimiter.take(address, at);
    },
  };
}
