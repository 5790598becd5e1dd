// Operator actions on enrollment, run on the controller machine against its state directory.
import { randomBytes } from 'node:crypto';
import { RejectedInputError, UserError } from '../../shared/errors.js';
import { formatPublicKey, keyFingerprint, parsePublicKey } from '../../shared/keys.js';
import { isHostName } from '../../shared/validate.js';
import { tokenHash } from './decide-enroll.js';
import { HOST_HISTORY_LIMIT, type HostEvent, type HostRecord } from '../storage/records.js';
import type { ControllerStore } from '../storage/store.js';

export class AdminError extends UserError {
  override name = 'AdminError' as const;
}

/** A key that was revoked for the host, given to enroll it again: refused by rule (exit 3), even with --force. */
export class RevokedKeyError extends RejectedInputError {
  override name = 'RevokedKeyError' as const;
  readonly reason = 'revoked key';
  constructor(readonly host: string, readonly publicKey: string) {
    super(
      `${publicKey} was revoked for ${host} and can never enroll again: make a new key on the host ` +
        `(move <stateDir>/tsdeploy-agent-${host}.secret and .public aside, then tsdeploy-agent pubkey) and give that one`,
    );
  }
}

function checkHost(host: string): void {
  if (!isHostName(host)) throw new AdminError(`invalid host name ${JSON.stringify(host)}`);
}

/** `history` with `event` added, the oldest dropped past the limit. */
function withEvent(record: HostRecord, event: HostEvent): HostRecord {
  return { ...record, history: [...(record.history ?? []), event].slice(-HOST_HISTORY_LIMIT) };
}

function parseGivenKey(expectedKey: string): string {
  try {
    return formatPublicKey(parsePublicKey(expectedKey));
  } catch {
    throw new AdminError(`--key is not a public key in Nix format "name:base64"`);
  }
}

export interface ApproveOptions {
  /** Re-enroll a revoked host with the key given (`hosts approve --key K --force`): for hosts that cannot ask. */
  readonly force?: boolean;
}

/**
 * Approves a pending request. `expectedKey` (from the agent's console or logs) guards against
 * approving a key someone else asked for under the same name. With `expectedKey`, a host that never
 * asked (an air-gapped one, whose key was carried over) is enrolled with that key directly; with
 * `force` too, so is a revoked one, with a key that was never revoked for it. Each change is added to
 * the record's history.
 */
export function approvedRecord(identity: HostRecord | null, host: string, expectedKey: string | undefined, now: Date, options: ApproveOptions = {}): HostRecord {
  const time = now.toISOString();
  if (identity === null) {
    if (expectedKey === undefined) {
      throw new AdminError(`no enrollment request from ${host}; to enroll a key carried over by hand, add --key NAME:BASE64`);
    }
    const publicKey = parseGivenKey(expectedKey);
    const record: HostRecord = { host, status: 'enrolled', publicKey, requestedAt: time, enrolledAt: time, enrolledVia: 'approval', revokedAt: null, revokedKeys: [] };
    return withEvent(record, { time, event: 'approved', publicKey, via: 'hosts approve --key' });
  }
  if (identity.status === 'revoked') {
    if (options.force !== true || expectedKey === undefined) {
      throw new AdminError(
        `${host} is revoked; its agent must ask again with a new key, or enroll a new key carried over by hand: hosts approve ${host} --key NAME:BASE64 --force`,
      );
    }
    const publicKey = parseGivenKey(expectedKey);
    const fingerprint = keyFingerprint(parsePublicKey(publicKey));
    const revoked = [...identity.revokedKeys, identity.publicKey].some((key) => {
      try {
        return keyFingerprint(parsePublicKey(key)) === fingerprint;
      } catch {
        return false;
      }
    });
    if (revoked) throw new RevokedKeyError(host, publicKey);
    const record: HostRecord = { ...identity, status: 'enrolled', publicKey, enrolledAt: time, enrolledVia: 'approval' };
    return withEvent(record, { time, event: 're-enrolled', publicKey, via: 'hosts approve --key --force' });
  }
  if (expectedKey !== undefined) {
    const expected = keyFingerprint(parsePublicKey(parseGivenKey(expectedKey)));
    if (expected !== keyFingerprint(parsePublicKey(identity.publicKey))) {
      throw new AdminError(`${host} asked with key ${identity.publicKey}, not the one given with --key`);
    }
  }
  if (identity.status === 'enrolled') return identity;
  const record: HostRecord = { ...identity, status: 'enrolled', enrolledAt: time, enrolledVia: 'approval' };
  return withEvent(record, { time, event: 'approved', publicKey: identity.publicKey, via: expectedKey === undefined ? 'hosts approve' : 'hosts approve --key' });
}

/** Revokes an enrolled key or drops a pending request; the key can never enroll again. */
export function revokedRecord(identity: HostRecord | null, host: string, now: Date): HostRecord {
  if (identity === null) throw new AdminError(`${host} is not known to this controller`);
  if (identity.status === 'revoked') return identity;
  const record: HostRecord = {
    ...identity,
    status: 'revoked',
    revokedAt: now.toISOString(),
    revokedKeys: [...identity.revokedKeys, identity.publicKey],
  };
  return withEvent(record, { time: now.toISOString(), event: 'revoked', publicKey: identity.publicKey, via: 'hosts revoke' });
}

export async function approveHost(
  store: ControllerStore,
  host: string,
  expectedKey: string | undefined,
  now: Date,
  options: ApproveOptions = {},
): Promise<{ record: HostRecord; changed: boolean }> {
  checkHost(host);
  return store.withHostLock(host, async () => {
    const current = await store.readHost(host);
    const record = approvedRecord(current, host, expectedKey, now, options);
    if (record === current) return { record, changed: false };
    await store.writeHost(record);
    return { record, changed: true };
  });
}

export async function revokeHost(store: ControllerStore, host: string, now: Date): Promise<{ record: HostRecord; changed: boolean }> {
  checkHost(host);
  return store.withHostLock(host, async () => {
    const current = await store.readHost(host);
    const record = revokedRecord(current, host, now);
    if (record === current) return { record, changed: false };
    await store.writeHost(record);
    return { record, changed: true };
  });
}

/** Makes a one-time token bound to `host`; only its sha256 is stored, so it is shown once. */
export async function createToken(store: ControllerStore, host: string, ttlMs: number, now: Date): Promise<{ token: string; expiresAt: string }> {
  checkHost(host);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  await store.writeToken(tokenHash(token), { host, createdAt: now.toISOString(), expiresAt, usedAt: null, usedByKey: null });
  return { token, expiresAt };
}
