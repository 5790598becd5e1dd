// Operator actions on enrollment, run on the controller machine against its state directory.
import { randomBytes } from 'node:crypto';
import { UserError } from '../../shared/errors.js';
import { formatPublicKey, keyFingerprint, parsePublicKey } from '../../shared/keys.js';
import { isHostName } from '../../shared/validate.js';
import { tokenHash } from './decide-enroll.js';
import type { HostRecord } from '../storage/records.js';
import type { ControllerStore } from '../storage/store.js';

export class AdminError extends UserError {
  override name = 'AdminError' as const;
}

function checkHost(host: string): void {
  if (!isHostName(host)) throw new AdminError(`invalid host name ${JSON.stringify(host)}`);
}

/**
 * Approves a pending request. `expectedKey` (from the agent's console or logs) guards against
 * approving a key someone else asked for under the same name. With `expectedKey`, a host that never
 * asked (an air-gapped one, whose key was carried over) is enrolled with that key directly.
 */
export function approvedRecord(identity: HostRecord | null, host: string, expectedKey: string | undefined, now: Date): HostRecord {
  if (identity === null) {
    if (expectedKey === undefined) {
      throw new AdminError(`no enrollment request from ${host}; to enroll a key carried over by hand, add --key NAME:BASE64`);
    }
    let publicKey: string;
    try {
      publicKey = formatPublicKey(parsePublicKey(expectedKey));
    } catch {
      throw new AdminError(`--key is not a public key in Nix format "name:base64"`);
    }
    const time = now.toISOString();
    return { host, status: 'enrolled', publicKey, requestedAt: time, enrolledAt: time, enrolledVia: 'approval', revokedAt: null, revokedKeys: [] };
  }
  if (identity.status === 'revoked') throw new AdminError(`${host} is revoked; its agent must ask again with a new key`);
  if (expectedKey !== undefined) {
    let expected: string;
    try {
      expected = keyFingerprint(parsePublicKey(expectedKey));
    } catch {
      throw new AdminError(`--key is not a public key in Nix format "name:base64"`);
    }
    if (expected !== keyFingerprint(parsePublicKey(identity.publicKey))) {
      throw new AdminError(`${host} asked with key ${identity.publicKey}, not the one given with --key`);
    }
  }
  if (identity.status === 'enrolled') return identity;
  return { ...identity, status: 'enrolled', enrolledAt: now.toISOString(), enrolledVia: 'approval' };
}

/** Revokes an enrolled key or drops a pending request; the key can never enroll again. */
export function revokedRecord(identity: HostRecord | null, host: string, now: Date): HostRecord {
  if (identity === null) throw new AdminError(`${host} is not known to this controller`);
  if (identity.status === 'revoked') return identity;
  return {
    ...identity,
    status: 'revoked',
    revokedAt: now.toISOString(),
    revokedKeys: [...identity.revokedKeys, identity.publicKey],
  };
}

export async function approveHost(store: ControllerStore, host: string, expectedKey: string | undefined, now: Date): Promise<{ record: HostRecord; changed: boolean }> {
  checkHost(host);
  return store.withHostLock(host, async () => {
    const current = await store.readHost(host);
    const record = approvedRecord(current, host, expectedKey, now);
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
