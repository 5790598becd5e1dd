// The controller store's interface and its small types: what the fleet service, the server and the admin
// commands may ask of the state directory (controller/storage/store.ts implements it on plain files).
import type { HostRecord, HostStatusRecord, ReportLogEntry, TokenRecord } from './records.js';

export interface ReportLog {
  /** Oldest first, across rotated files. */
  readonly entries: readonly ReportLogEntry[];
  /** Lines that did not parse; only a torn last line after a power loss should ever count here. */
  readonly skipped: number;
}

export interface ReportRotation {
  readonly maxLogBytes: number;
  readonly keepRotated: number;
}

export interface StoreOptions {
  /**
   * Owner given to files this process creates: the admin CLI run as root sets it to the state
   * directory's owner, so a server running as its own user can still replace them.
   */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/**
 * Identifies one version of a file: inode, size, mtime and ctime in nanoseconds. `settled` is false while
 * the file changed too recently for its timestamps to tell two writes apart (the "racily clean" rule of
 * git's index), so a cache must not trust the stamp yet.
 */
export interface FileStamp {
  readonly key: string;
  readonly settled: boolean;
}

/** Everything the server and the admin commands read and write; tests may run it on a temp dir. */
export interface ControllerStore {
  readonly stateDir: string;
  listManifests(): Promise<Array<{ host: string; bytes: Uint8Array }>>;
  readManifest(host: string): Promise<Uint8Array | null>;
  /** Stores the exact bytes; durable when the promise resolves. */
  writeManifest(host: string, bytes: Uint8Array): Promise<void>;
  readHost(host: string): Promise<HostRecord | null>;
  writeHost(record: HostRecord): Promise<void>;
  /** Removes a host's enrollment record (an expired pending request); call it holding the host's lock. */
  removeHost(host: string): Promise<void>;
  listHosts(): Promise<HostRecord[]>;
  /** The stamp of hosts/<host>.json now; null when there is none. */
  hostStamp(host: string): Promise<FileStamp | null>;
  /** The host's record and the stamp of exactly the version read; null when there is none. */
  readHostStamped(host: string): Promise<{ record: HostRecord; stamp: FileStamp } | null>;
  /** The stamp of the hosts/ directory: it changes whenever a host file is added, replaced or removed. */
  hostsDirStamp(): Promise<FileStamp | null>;
  /** Names of the hosts with a hosts/<host>.json. */
  listHostNames(): Promise<string[]>;
  readHostStatus(host: string): Promise<HostStatusRecord | null>;
  writeHostStatus(record: HostStatusRecord): Promise<void>;
  listHostStatuses(): Promise<HostStatusRecord[]>;
  readToken(hash: string): Promise<TokenRecord | null>;
  writeToken(hash: string, record: TokenRecord): Promise<void>;
  /**
   * Appends one fsynced line, rotating first when the line would pass the size limit; `beforeRotate`
   * runs first then (a rotation can drop the oldest log, so what only it holds is saved elsewhere first).
   */
  appendReport(host: string, entry: ReportLogEntry, beforeRotate?: () => Promise<void>): Promise<void>;
  /** The last whole line of the host's log (or of its newest rotated log when the log is empty). */
  readLastReport(host: string): Promise<ReportLogEntry | null>;
  readReports(host: string): Promise<ReportLog>;
  /**
   * Records an accepted report as the server does (log line first, then status), for `reports import`
   * with no server running; files it creates are given to `owner`, so the server can append later.
   */
  recordReport(entry: ReportLogEntry, status: HostStatusRecord): Promise<void>;
  /** Runs `fn` holding the host's identity lock, shared with other processes (the admin CLI). */
  withHostLock<T>(host: string, fn: () => Promise<T>): Promise<T>;
  /** Takes the state directory for one server; released by the returned function. */
  lockForServer(): Promise<() => Promise<void>>;
  /** Creates the directories, so a later writer (perhaps another user) finds them owned by the first. */
  ensureLayout(): Promise<void>;
  /** Removes temp files a killed writer left behind (server start). */
  removeLeftovers(): Promise<number>;
}

