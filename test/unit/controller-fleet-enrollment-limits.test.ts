import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterExpiry, createAddressLimiter, EnrollmentLimitsSchema, isExpiredPending, pendingCapRefusal, wouldAddPending } from '../../controller/fleet/enrollment-limits.js';
import type { HostRecord } from '../../controller/storage/records.js';
import { versionRefusal, VERSION_CEILING } from '../../controller/commands/publish-guard.js';

const T0 = new Date('2026-11-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const pending = (requestedAt: Date): HostRecord => ({
  host: 'web-1', status: 'pending', publicKey: 'k:AAAA', requestedAt: requestedAt.toISOString(), enrolledAt: null, enrolledVia: null, revokedAt: null, revokedKeys: [],
});

describe('enrollment limits', () => {
  const limits = EnrollmentLimitsSchema.parse({ maxPending: 2, pendingTtlSeconds: 60, perAddressPerMinute: 3 });
  it('defaults to 100 pending, 7 days, 10 per address per minute', () => {
    assert.deepEqual(EnrollmentLimitsSchema.parse({}), { maxPending: 100, pendingTtlSeconds: 604_800, perAddressPerMinute: 10 });
  });
  it('refuses a pending request past the cap with 429', () => {
    assert.equal(pendingCapRefusal(1, limits), null);
    assert.equal(pendingCapRefusal(2, limits)?.status, 429);
  });
  it('expires a pending request at its time, never an enrolled host', () => {
    assert.equal(isExpiredPending(pending(T0), at(59), 60), false);
    assert.equal(isExpiredPending(pending(T0), at(60), 60), true);
    assert.equal(isExpiredPending({ ...pending(T0), status: 'enrolled' }, at(600), 60), false);
  });
  it('an expired request leaves nothing, or a revoked record that keeps the revoked keys', () => {
    assert.equal(afterExpiry(pending(T0)), null);
    const after = afterExpiry({ ...pending(T0), revokedKeys: ['old:BBBB'] });
    assert.equal(after?.status, 'revoked');
    assert.deepEqual(after?.revokedKeys, ['old:BBBB']);
  });
  it('only a new host, a revoked one or an expired request adds a pending request', () => {
    assert.equal(wouldAddPending(null, T0, 60), true);
    assert.equal(wouldAddPending(pending(T0), at(10), 60), false);
    assert.equal(wouldAddPending(pending(T0), at(60), 60), true);
    assert.equal(wouldAddPending({ ...pending(T0), status: 'enrolled' }, at(600), 60), false);
    assert.equal(wouldAddPending({ ...pending(T0), status: 'revoked' }, at(1), 60), true);
  });
  it('allows `perMinute` new requests per address per sliding minute, with the seconds to wait', () => {
    const limiter = createAddressLimiter(3);
    assert.deepEqual([0, 1, 2].map((s) => limiter.take('10.0.0.1', at(s))), [null, null, null]);
    assert.equal(limiter.take('10.0.0.1', at(3))?.retryAfterSeconds, 57);
    assert.equal(limiter.take('10.0.0.2', at(3)), null, 'another address has its own window');
    assert.equal(limiter.take('10.0.0.1', at(61)), null, 'the window slides');
  });
  it('forgets the oldest address past its memory bound', () => {
    const limiter = createAddressLimiter(1, 2);
    for (const address of ['a', 'b', 'c']) limiter.take(address, T0);
    assert.equal(limiter.take('a', at(1)), null, 'a was forgotten');
    assert.notEqual(limiter.take('c', at(1)), null);
  });
});

describe('versionRefusal (publish)', () => {
  it('signs the next version on first use and within the jump', () => {
    assert.equal(versionRefusal('web-1', 1, null, 1000), null);
    assert.equal(versionRefusal('web-1', 8, 7, 1000), null);
    assert.equal(versionRefusal('web-1', 1007, 7, 1000), null);
  });
  it('refuses a version above the ceiling, even on first use', () => {
    assert.match(versionRefusal('web-1', 9_007_199_254_740_001, null, 1000) ?? '', /9007199254740000, above the largest version/);
    assert.match(versionRefusal('web-1', VERSION_CEILING + 1, 5, 10 ** 15) ?? '', /above the largest/);
  });
  it('refuses a jump past --max-jump and names both versions', () => {
    assert.match(versionRefusal('web-1', 500_001, 1, 1000) ?? '', /last signed version 1 for web-1 and the controller says 500000/);
  });
});
