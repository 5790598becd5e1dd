// Publishing one host's manifest: sign version current+1 and upload it, and the publisher's own record of
// what it signed. Shared by `publish` and `rollout abort --revert`.
import { errnoCode, errorMessage, UserError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/files.js';
import { readJsonFile } from '../../shared/json.js';
import type { SecretKey } from '../../shared/keys.js';
import type { Activation, Manifest } from '../../shared/manifest.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { errorOfBody, type ControllerApi } from '../http/client.js';
import { storedManifestInfo } from '../fleet/decide-publish.js';
import { PublishRecordSchema, versionRefusal } from './publish-guard.js';

type Out = (text: string) => void;

/** The publisher's own record of what it signed, beside the first key unless `--state` names a file. */
export async function openPublishRecord(
  path: string,
  given: boolean,
  warn: Out,
): Promise<{ lastSigned: (host: string) => number | null; signed: (host: string, version: number) => Promise<void> }> {
  const record = (await readJsonFile(path, PublishRecordSchema, (detail) => new UserError(`publish record ${path}: ${detail}`))) ?? { hosts: {} };
  let warned = false;
  return {
    lastSigned: (host) => record.hosts[host] ?? null,
    async signed(host, version) {
      record.hosts[host] = Math.max(version, record.hosts[host] ?? 0);
      try {
        await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, 0o600);
      } catch (error) {
        // Beside a key on read-only media the record cannot be kept; the upload stands, so say so once.
        if (given) throw new UserError(`cannot write the publish record ${path}: ${errnoCode(error) ?? errorMessage(error)}`);
        if (!warned) warn(`publish: cannot keep the record of signed versions at ${path} (${errnoCode(error) ?? errorMessage(error)}); pass --state FILE\n`);
        warned = true;
      }
    },
  };
}

export type PublishOutcome =
  | { readonly host: string; readonly result: 'published'; readonly from: number | null; readonly version: number; readonly storePath: string }
  /** Not signed: the version the controller's answer leads to is not one this publisher can justify. */
  | { readonly host: string; readonly result: 'declined'; readonly error: string }
  | { readonly host: string; readonly result: 'unchanged'; readonly version: number; readonly storePath: string }
  | { readonly host: string; readonly result: 'refused'; readonly status: number; readonly error: string };

export interface PublishOptions {
  readonly keys: readonly SecretKey[];
  readonly activation: Activation;
  readonly expiresInMs: number;
  readonly system: string;
  readonly note: string | undefined;
  readonly rollout: string | undefined;
  /** Publish a new version even when the same path and activation are already desired. */
  readonly force: boolean;
  readonly now: () => Date;
  /** The last version this publisher signed for a host (its own record), or null. */
  readonly lastSigned: (host: string) => number | null;
  /** Versions the next one may be past `lastSigned` (`--max-jump`). */
  readonly maxJump: number;
}

/**
 * The current manifest decides the next version. Nothing is uploaded when the host already has
 * an unexpired manifest for the same path and activation ("unchanged").
 */
export async function publishHost(api: ControllerApi, host: string, storePath: string, options: PublishOptions): Promise<PublishOutcome> {
  const fetched = await api.getManifest(host);
  let current: Manifest | null = null;
  if (fetched.kind === 'found') {
    try {
      current = storedManifestInfo(fetched.bytes).manifest;
    } catch (error) {
      throw new UserError(`the controller serves an unreadable manifest for ${host}: ${errorMessage(error)}`);
    }
  }
  const now = options.now();
  if (
    current !== null &&
    !options.force &&
    current.storePath === storePath &&
    current.activation === options.activation &&
    Date.parse(current.expiresAt) > now.getTime()
  ) {
    return { host, result: 'unchanged', version: current.version, storePath };
  }
  const version = (current?.version ?? 0) + 1;
  const refusal = versionRefusal(host, version, options.lastSigned(host), options.maxJump);
  if (refusal !== null) return { host, result: 'declined', error: refusal };
  const manifest = buildManifest({
    host,
    storePath,
    version,
    activation: options.activation,
    expiresInMs: options.expiresInMs,
    system: options.system,
    now,
    note: options.note,
    rollout: options.rollout,
  });
  const answer = await api.postManifest(signManifest(manifest, options.keys));
  if (answer.status === 201 || answer.status === 200) {
    return { host, result: 'published', from: current?.version ?? null, version: manifest.version, storePath };
  }
  return { host, result: 'refused', status: answer.status, error: errorOfBody(answer) };
}

export function formatOutcome(outcome: PublishOutcome): string {
  switch (outcome.result) {
    case 'published':
      return `${outcome.host}: ${outcome.from ?? 'none'} -> ${outcome.version} ${outcome.storePath}`;
    case 'unchanged':
      return `${outcome.host}: unchanged (version ${outcome.version} already has ${outcome.storePath})`;
    case 'refused':
      return `${outcome.host}: refused (HTTP ${outcome.status}): ${outcome.error}`;
    case 'declined':
      return `${outcome.host}: not signed: ${outcome.error}`;
  }
}

