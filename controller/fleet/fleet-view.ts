// The fleet in memory: manifests, enrollments and last reports as the controller wrote or last read them,
// so status and report intake read no host's files per request. Writes reach it through `writeThrough`.
import { sha256Hex } from '../../shared/digest.js';
import { encodeEnvelope, openEnvelope, parsePayload } from '../../shared/dsse.js';
import { parsePublicKey } from '../../shared/keys.js';
import { REPORT_MAX_BYTES, REPORT_PAYLOAD_TYPE, ReportSchema } from '../../shared/report.js';
import { mapBounded } from '../../shared/map-bounded.js';
import type { HostRecord, HostStatusRecord, ReportLogEntry } from '../storage/records.js';
import { createKeyedMutex } from '../storage/mutex.js';
import { LIST_CONCURRENCY, type ControllerStore, type FileStamp } from '../storage/store.js';
import { storedManifestInfo } from './decide-publish.js';
import type { Desired } from './host-status.js';

/** A host's current manifest as served: exact bytes, ETag and what it asks for. */
export interface CurrentManifest {
  readonly bytes: Uint8Array;
  readonly etag: string;
  readonly desired: Desired;
}

export function currentOf(bytes: Uint8Array): CurrentManifest {
  const { manifest } = storedManifestInfo(bytes);
  return { bytes, etag: sha256Hex(bytes), desired: { version: manifest.version, storePath: manifest.storePath, activation: manifest.activation } };
}

/** Plain data to compare two views (tests: the live view against a fresh load from disk). */
export interface FleetSnapshot {
  /** host → ETag of the stored manifest. */
  readonly manifests: Readonly<Record<string, string>>;
  readonly identities: Readonly<Record<string, HostRecord>>;
  readonly statuses: Readonly<Record<string, HostStatusRecord>>;
}

export interface FleetView {
  manifest(host: string): CurrentManifest | null;
  manifestHosts(): IterableIterator<string>;
  status(host: string): HostStatusRecord | null;
  statuses(): IterableIterator<HostStatusRecord>;
  /**
   * The host's enrollment as on disk now. The admin CLI (approve, revoke) writes host files from its own
   * process, so each call stats the file and reads it again only when it changed: a revoke counts at once.
   */
  identity(host: string): Promise<HostRecord | null>;
  /** Every enrollment, after catching up with host files another process added, replaced or removed. */
  identities(): Promise<HostRecord[]>;
  snapshot(): Promise<FleetSnapshot>;
  putManifest(host: string, bytes: Uint8Array): void;
  putStatus(record: HostStatusRecord): void;
  /** This process wrote (or removed, or failed to write) the host's file: the next reads check the disk again. */
  identityWritten(host: string, record: HostRecord | null): void;
}

interface IdentityEntry {
  readonly record: HostRecord;
  /** Stamp of the version `record` came from; null when written here (not yet seen on disk). */
  readonly stamp: FileStamp | null;
}

/** Loads the view from the state directory, `LIST_CONCURRENCY` files at a time. */
export async function loadFleetView(store: ControllerStore): Promise<FleetView> {
  const manifests = new Map<string, CurrentManifest>();
  const statuses = new Map<string, HostStatusRecord>();
  const identities = new Map<string, IdentityEntry>();
  const mutex = createKeyedMutex();
  /** The hosts/ directory's stamp when the cache last matched it; null when a sweep is due. */
  let syncedDir: string | null = null;

  async function identity(host: string): Promise<HostRecord | null> {
    const stamp = await store.hostStamp(host);
    if (stamp === null) {
      identities.delete(host);
      return null;
    }
    const cached = identities.get(host);
    if (cached !== undefined && cached.stamp !== null && cached.stamp.settled && cached.stamp.key === stamp.key) return cached.record;
    const read = await store.readHostStamped(host);
    if (read === null) identities.delete(host);
    else identities.set(host, read);
    return read?.record ?? null;
  }

  /** A sweep of hosts/ (a stat per file, a read per changed file) only when the directory changed. */
  function catchUp(): Promise<void> {
    return mutex.run('catch-up', async () => {
      const dir = await store.hostsDirStamp();
      if (dir !== null && dir.key === syncedDir) return;
      const names = await store.listHostNames();
      const present = new Set(names);
      for (const host of [...identities.keys()]) if (!present.has(host)) identities.delete(host);
      await mapBounded(names, LIST_CONCURRENCY, identity);
      syncedDir = dir !== null && dir.settled ? dir.key : null;
    });
  }

  for (const { host, bytes } of await store.listManifests()) manifests.set(host, currentOf(bytes));
  for (const record of await store.listHostStatuses()) statuses.set(record.host, record);
  await catchUp();

  const sorted = <T>(map: Map<string, T>): Record<string, T> => Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    manifest: (host) => manifests.get(host) ?? null,
    manifestHosts: () => manifests.keys(),
    status: (host) => statuses.get(host) ?? null,
    statuses: () => statuses.values(),
    identity,
    async identities() {
      await catchUp();
      return [...identities.values()].map((entry) => entry.record);
    },
    async snapshot() {
      await catchUp();
      return {
        manifests: sorted(new Map([...manifests].map(([host, current]) => [host, current.etag]))),
        identities: sorted(new Map([...identities].map(([host, entry]) => [host, entry.record]))),
        statuses: sorted(statuses),
      };
    },
    putManifest: (host, bytes) => void manifests.set(host, currentOf(bytes)),
    putStatus: (record) => void statuses.set(record.host, record),
    identityWritten(host, record) {
      syncedDir = null;
      if (record === null) identities.delete(host);
      else identities.set(host, { record, stamp: null });
    },
  };
}

/** The log line's report when it is signed by `publicKey` and readable; null otherwise. */
function reportOfLogLine(entry: ReportLogEntry, publicKey: string): HostStatusRecord['report'] | null {
  try {
    const opened = openEnvelope(Buffer.from(encodeEnvelope(entry.envelope)), REPORT_PAYLOAD_TYPE, [parsePublicKey(publicKey)], 1, REPORT_MAX_BYTES);
    return parsePayload(opened.payload, ReportSchema);
  } catch {
    return null;
  }
}

/**
 * Brings every host's status up to the last line of its report log (the log is fsynced before a report
 * is acknowledged; the status file is a checkpoint written after it, so after a crash it can be behind).
 * A line counts only when it verifies under the host's current key. Returns the statuses it advanced.
 */
export async function recoverStatuses(store: ControllerStore, view: FleetView): Promise<HostStatusRecord[]> {
  const recovered = await mapBounded(await view.identities(), LIST_CONCURRENCY, async (identity): Promise<HostStatusRecord | null> => {
    const entry = await store.readLastReport(identity.host);
    if (entry === null) return null;
    const report = reportOfLogLine(entry, identity.publicKey);
    if (report === null || report.host !== identity.host) return null;
    const checkpoint = view.status(identity.host);
    if (checkpoint !== null && checkpoint.publicKey === identity.publicKey && checkpoint.lastSeq >= report.seq) return null;
    const record: HostStatusRecord = { host: identity.host, publicKey: identity.publicKey, lastSeq: report.seq, receivedAt: entry.receivedAt, report };
    view.putStatus(record);
    return record;
  });
  return recovered.filter((record) => record !== null);
}

/**
 * The store with every write also applied to `view`, and reads of hosts and statuses answered from it:
 * the one place the view is kept up to date, whichever use case (publish, report, enroll, approve,
 * revoke, expiry of pending requests, rollout release) does the write.
 */
export function writeThrough(store: ControllerStore, view: FleetView): ControllerStore {
  return {
    ...store,
    async listManifests() {
      return [...view.manifestHosts()].map((host) => ({ host, bytes: view.manifest(host)?.bytes ?? new Uint8Array() }));
    },
    readManifest: async (host) => view.manifest(host)?.bytes ?? null,
    async writeManifest(host, bytes) {
      await store.writeManifest(host, bytes);
      view.putManifest(host, bytes);
    },
    readHost: (host) => view.identity(host),
    async writeHost(record) {
      try {
        await store.writeHost(record);
      } catch (error) {
        view.identityWritten(record.host, null);
        throw error;
      }
      view.identityWritten(record.host, record);
    },
    async removeHost(host) {
      try {
        await store.removeHost(host);
      } finally {
        view.identityWritten(host, null);
      }
    },
    listHosts: () => view.identities(),
    readHostStatus: async (host) => view.status(host),
    async writeHostStatus(record) {
      await store.writeHostStatus(record);
      view.putStatus(record);
    },
    listHostStatuses: async () => [...view.statuses()],
    async recordReport(entry, status) {
      await store.recordReport(entry, status);
      view.putStatus(status);
    },
  };
}
