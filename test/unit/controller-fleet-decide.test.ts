import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideEnroll, type EnrollRequest } from '../../controller/fleet/decide-enroll.js';
import { decidePublish as decideVerified, inspectManifest, type PublishDecision } from '../../controller/fleet/decide-publish.js';
import { decideReport as decideReportAt } from '../../controller/fleet/decide-report.js';
import { decideManifestGet, ifNoneMatchMatches, parseWait } from '../../controller/http/manifest-get.js';
import type { HostRecord, HostStatusRecord, TokenRecord } from '../../controller/storage/records.js';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { formatPublicKey, generateKeyPair, type PublicKey } from '../../shared/keys.js';
import { encodeReport, REPORT_PAYLOAD_TYPE, type Report } from '../../shared/report.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';

const NOW = new Date('2026-03-01T10:00:00Z');

/** Verifies, then decides: the order every caller of decidePublish follows. */
function decidePublish(input: { bytes: Uint8Array; trustedKeys: readonly PublicKey[]; threshold: number; current: Uint8Array | null; now: Date }): PublishDecision {
  const inspected = inspectManifest(input.bytes, input.trustedKeys, input.threshold);
  return inspected.kind === 'refuse' ? inspected : decideVerified({ verified: inspected.verified, current: input.current, now: input.now });
}

const decideReport = (input: Omit<Parameters<typeof decideReportAt>[0], 'now'>) => decideReportAt({ ...input, now: NOW });
const ISO = NOW.toISOString();
const K1 = generateKeyPair('agent-1');
const K2 = generateKeyPair('agent-2');
const k1 = formatPublicKey(K1.public);
const k2 = formatPublicKey(K2.public);
const RELEASE = generateKeyPair('release');
const PATH = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-system';

function identity(status: HostRecord['status'], publicKey: string, revokedKeys: string[] = []): HostRecord {
  return { host: 'web-1', status, publicKey, requestedAt: ISO, enrolledAt: null, enrolledVia: null, revokedAt: null, revokedKeys };
}
function token(fields: Partial<TokenRecord> = {}): TokenRecord {
  return { host: 'web-1', createdAt: ISO, expiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(), usedAt: null, usedByKey: null, ...fields };
}
const withToken = (publicKey: string): EnrollRequest => ({ host: 'web-1', publicKey, token: 'x'.repeat(43) });
const noToken = (publicKey: string): EnrollRequest => ({ host: 'web-1', publicKey });

describe('decideEnroll', () => {
  const cases: Array<[string, EnrollRequest, HostRecord | null, TokenRecord | null, number, boolean, boolean]> = [
    // name, request, identity, token, status, writes token, writes identity
    ['a valid token enrolls a new host', withToken(k1), null, token(), 201, true, true],
    ['a valid token enrolls a host that was pending', withToken(k1), identity('pending', k2), token(), 201, true, true],
    ['a retry by the enrolled key is 200 without writes', withToken(k1), identity('enrolled', k1), token({ usedAt: ISO, usedByKey: k1 }), 200, false, false],
    ['another key for an enrolled host is 409', withToken(k2), identity('enrolled', k1), token(), 409, false, false],
    ['an unknown token is 403', withToken(k1), null, null, 403, false, false],
    ["another host's token is 403", withToken(k1), null, token({ host: 'web-2' }), 403, false, false],
    ['an expired token is 403', withToken(k1), null, token({ expiresAt: ISO }), 403, false, false],
    ['a token used by another key is 403', withToken(k1), null, token({ usedAt: ISO, usedByKey: k2 }), 403, false, false],
    ['a token used by this key finishes an interrupted enrollment', withToken(k1), null, token({ usedAt: ISO, usedByKey: k1 }), 201, false, true],
    ['a revoked key is 403 even with a valid token', withToken(k1), identity('revoked', k1, [k1]), token(), 403, false, false],
    ['a new key after a revocation enrolls with a token', withToken(k2), identity('revoked', k1, [k1]), token(), 201, true, true],
    ['no token records a pending request', noToken(k1), null, null, 202, false, true],
    ['no token, already pending with this key, is 202 without writes', noToken(k1), identity('pending', k1), null, 202, false, false],
    ['no token, another key pending, is 409', noToken(k2), identity('pending', k1), null, 409, false, false],
    ['no token, revoked host, new key, is pending again', noToken(k2), identity('revoked', k1, [k1]), null, 202, false, true],
    ['no token, enrolled with this key (after approval), is 200', noToken(k1), identity('enrolled', k1), null, 200, false, false],
  ];
  for (const [name, request, id, tok, status, writesToken, writesIdentity] of cases) {
    it(name, () => {
      const decision = decideEnroll({ request, identity: id, token: tok, now: NOW });
      assert.equal(decision.reply.status, status);
      assert.equal(decision.writeToken !== null, writesToken, 'token write');
      assert.equal(decision.writeIdentity !== null, writesIdentity, 'identity write');
    });
  }
  it('binds a consumed token to the key that used it', () => {
    const decision = decideEnroll({ request: withToken(k1), identity: null, token: token(), now: NOW });
    assert.equal(decision.writeToken?.usedByKey, k1);
    assert.equal(decision.writeToken?.usedAt, ISO);
    assert.equal(decision.writeIdentity?.status, 'enrolled');
    assert.equal(decision.writeIdentity?.enrolledVia, 'token');
  });
  it('keeps the revoked keys when a host enrolls again', () => {
    const decision = decideEnroll({ request: withToken(k2), identity: identity('revoked', k1, [k1]), token: token(), now: NOW });
    assert.deepEqual(decision.writeIdentity?.revokedKeys, [k1]);
  });
});

describe('parseWait', () => {
  const cases: Array<[string | null, number, number | null]> = [
    [null, 60, 0],
    ['0', 60, 0],
    ['30', 60, 30],
    ['60', 60, 60],
    ['60', 20, 20],
    ['61', 60, null],
    ['-1', 60, null],
    ['1.5', 60, null],
    ['', 60, null],
    ['abc', 60, null],
    ['007', 60, null],
  ];
  for (const [value, max, expected] of cases) {
    it(`${JSON.stringify(value)} with a maximum of ${max} gives ${String(expected)}`, () => assert.equal(parseWait(value, max), expected));
  }
});

describe('If-None-Match', () => {
  it('matches the quoted ETag, a weak one, one in a list, and *', () => {
    assert.equal(ifNoneMatchMatches('"abc"', 'abc'), true);
    assert.equal(ifNoneMatchMatches('W/"abc"', 'abc'), true);
    assert.equal(ifNoneMatchMatches('"x", "abc"', 'abc'), true);
    assert.equal(ifNoneMatchMatches('*', 'abc'), true);
  });
  it('does not match another ETag, an unquoted one, a missing header, or no manifest', () => {
    assert.equal(ifNoneMatchMatches('"abd"', 'abc'), false);
    assert.equal(ifNoneMatchMatches('abc', 'abc'), false);
    assert.equal(ifNoneMatchMatches(undefined, 'abc'), false);
    assert.equal(ifNoneMatchMatches('*', null), false);
  });
});

describe('decideManifestGet', () => {
  const cases: Array<[string, string | null, string | undefined, number, string]> = [
    ['a manifest and no If-None-Match is sent', 'e1', undefined, 0, 'send'],
    ['a manifest and no If-None-Match is sent even when waiting', 'e1', undefined, 30, 'send'],
    ['an older ETag gets the manifest at once', 'e2', '"e1"', 30, 'send'],
    ['the current ETag without wait is not-modified', 'e1', '"e1"', 0, 'not-modified'],
    ['the current ETag with wait waits', 'e1', '"e1"', 30, 'wait'],
    ['no manifest without wait is not-found', null, undefined, 0, 'not-found'],
    ['no manifest with wait waits', null, undefined, 30, 'wait'],
    ['no manifest with a stale ETag and wait waits', null, '"e1"', 30, 'wait'],
  ];
  for (const [name, etag, inm, wait, kind] of cases) {
    it(name, () => assert.equal(decideManifestGet(etag, inm, wait).kind, kind));
  }
});

describe('decidePublish', () => {
  const sign = (version: number, path = PATH, now = NOW) =>
    Buffer.from(
      signManifest(
        buildManifest({ host: 'web-1', storePath: path, version, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now }),
        [RELEASE.secret],
      ),
    );
  const decide = (bytes: Uint8Array, current: Uint8Array | null) =>
    decidePublish({ bytes, trustedKeys: [RELEASE.public], threshold: 1, current, now: NOW });

  it('stores a first manifest with 201', () => assert.equal(decide(sign(1), null).reply.status, 201));
  it('stores a greater version with 201', () => assert.equal(decide(sign(2), sign(1)).reply.status, 201));
  it('answers a byte-identical upload with 200', () => {
    const bytes = sign(1);
    const decision = decide(bytes, bytes);
    assert.equal(decision.kind, 'same');
    assert.equal(decision.reply.status, 200);
  });
  it('refuses the same version with other bytes with 409', () => {
    const decision = decide(sign(1, '/nix/store/1c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-system'), sign(1));
    assert.equal(decision.reply.status, 409);
    assert.equal(decision.reply.body['currentVersion'], 1);
  });
  it('refuses a lower version with 409', () => assert.equal(decide(sign(1), sign(2)).reply.status, 409));
  it('refuses an expired manifest with 400', () => {
    assert.equal(decide(sign(1, PATH, new Date(NOW.getTime() - 2 * 86_400_000)), null).reply.status, 400);
  });
  it('takes only a manifest verifyManifest made, never raw bytes or a look-alike object', () => {
    const bytes = sign(1);
    // @ts-expect-error: bytes are not a VerifiedManifest
    assert.throws(() => decideVerified({ verified: bytes, current: null, now: NOW }));
    const inspected = inspectManifest(bytes, [RELEASE.public], 1);
    assert.equal(inspected.kind, 'ok');
    if (inspected.kind !== 'ok') return;
    const { manifest, payload, signers } = inspected.verified;
    // @ts-expect-error: the brand cannot be copied from outside verify-manifest.ts
    const forged: Parameters<typeof decideVerified>[0]['verified'] = { bytes, manifest, payload, signers };
    assert.ok(forged);
  });
  it('refuses a manifest by an untrusted key with 403', () => {
    const bytes = decidePublish({ bytes: sign(1), trustedKeys: [K1.public], threshold: 1, current: null, now: NOW });
    assert.equal(bytes.reply.status, 403);
  });
});

describe('decideReport', () => {
  const enrolled = { ...identity('enrolled', k1), enrolledAt: ISO, enrolledVia: 'token' as const };
  const body = (seq: number, host = 'web-1'): Report => ({
    host,
    seq,
    time: ISO,
    kind: 'heartbeat',
    manifestVersion: null,
    desiredPath: null,
    phase: 'idle',
    outcome: 'in-progress',
    currentSystem: null,
    bootedSystem: null,
    generation: null,
    health: [],
    error: null,
    facts: null,
  });
  const bytes = (report: Report, key = K1.secret) => Buffer.from(encodeEnvelope(signEnvelope(REPORT_PAYLOAD_TYPE, encodeReport(report), [key])));
  const status = (lastSeq: number, publicKey = k1): HostStatusRecord => ({ host: 'web-1', publicKey, lastSeq, receivedAt: ISO, report: body(lastSeq) });

  it('accepts the next seq with 202', () => assert.equal(decideReport({ host: 'web-1', bytes: bytes(body(3)), identity: enrolled, status: status(2) }).reply.status, 202));
  it('returns the log line and status record to write, received now, for the enrolled key', () => {
    const decision = decideReport({ host: 'web-1', bytes: bytes(body(3)), identity: enrolled, status: status(2) });
    assert.equal(decision.kind, 'accept');
    if (decision.kind !== 'accept') return;
    assert.equal(decision.writeLog.receivedAt, NOW.toISOString());
    assert.deepEqual(decision.writeLog.envelope, decision.envelope);
    assert.deepEqual(decision.writeStatus, { host: 'web-1', publicKey: k1, lastSeq: 3, receivedAt: NOW.toISOString(), report: decision.report });
  });
  it('refuses a seq equal to the last with 409 and lastSeq', () => {
    const decision = decideReport({ host: 'web-1', bytes: bytes(body(2)), identity: enrolled, status: status(2) });
    assert.equal(decision.reply.status, 409);
    assert.equal(decision.reply.body['lastSeq'], 2);
  });
  it('counts from zero for a key other than the one the last seq belongs to', () => {
    assert.equal(decideReport({ host: 'web-1', bytes: bytes(body(1)), identity: enrolled, status: status(9, k2) }).reply.status, 202);
  });
  it('refuses an unknown host with 403', () => assert.equal(decideReport({ host: 'web-1', bytes: bytes(body(1)), identity: null, status: null }).reply.status, 403));
  it('refuses a pending host with 403', () => {
    assert.equal(decideReport({ host: 'web-1', bytes: bytes(body(1)), identity: identity('pending', k1), status: null }).reply.status, 403);
  });
  it('refuses a report signed by another key with 403', () => {
    assert.equal(decideReport({ host: 'web-1', bytes: bytes(body(1), K2.secret), identity: enrolled, status: null }).reply.status, 403);
  });
  it('refuses a report about another host with 400', () => {
    assert.equal(decideReport({ host: 'web-1', bytes: bytes(body(1, 'web-2')), identity: enrolled, status: null }).reply.status, 400);
  });
});
