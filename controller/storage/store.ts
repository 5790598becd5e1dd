// The controller's state directory: plain files, each written atomically, behind a narrow interface.
import { chown, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { UserError } from '../../shared/errors.js';
import { appendDurable, fsyncDirectory, writeFileAtomic } from '../../shared/files.js';
import { REPORT_MAX_BYTES } from '../../shared/report.js';
import { parseJson, readJsonFile } from '../../shared/json.js';
import { mapBounded } from '../../shared/map-bounded.js';
import { isHostName } from '../../shared/validate.js';
import { lastLine, listNames, parseLogLines, readOptional, renameIfExists, sizeOf } from './state-files.js';
import { acquireFileLock, isAlive, lockTempPid } from './file-lock.js';
import { createKeyedMutex } from './mutex.js';
import {
  HostRecordSchema,
  HostStatusRecordSchema,
  TokenRecordSchema,
  type HostRecord,
  type HostStatusRecord,
  type ReportLogEntry,
} from './records.js';
import type { ControllerStore, FileStamp, ReportRotation, StoreOptions } from './store-port.js';
import { controllerStatePaths } from '../../shared/layout.js';

export type { ControllerStore, FileStamp, ReportLog, ReportRotation, StoreOptions } from './store-port.js';

/** A state file that does not parse: never written by tsdeploy (writes are atomic), so someone edited it. */
export class StateFileError extends UserError {
  override name = 'StateFileError' as const;
  constructor(readonly path: string, readonly detail: string) {
    super(`state file ${path} is invalid (${detail}); restore it from a backup or remove it`);
  }
}

/** How old a change must be before its timestamps are trusted to tell it from a later one. */
const STAMP_SETTLE_MS = 2_000n;

function stampOf(info: BigIntStats): FileStamp {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const changedNs = info.ctimeNs > info.mtimeNs ? info.ctimeNs : info.mtimeNs;
  return { key: `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`, settled: nowNs - changedNs > STAMP_SETTLE_MS * 1_000_000n };
}

/** Files read at a time when loading every host (start-up), well below any open-files limit. */
export const LIST_CONCURRENCY = 64;

const DIRS = { manifests: 'manifests', hosts: 'hosts', status: 'status', tokens: 'tokens', reports: 'reports', locks: 'locks' } as const;

/** How long an identity write waits for the other process's lock before giving up. */
const HOST_LOCK_WAIT_MS = 10_000;

/** Temp files older than this in directories the admin CLI also writes are leftovers, not writes in progress. */
const FOREIGN_TEMP_AGE_MS = 60_000;

function checkHost(host: string): string {
  if (!isHostName(host)) throw new StateFileError(host, 'not a host name');
  return host;
}

/** Reads a state file through its schema; null when it does not exist, a StateFileError when it is bad. */
export function readJson<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
  return readJsonFile(path, schema, (detail) => new StateFileError(path, detail));
}

/**
 * Layout: manifests/<host>.json (exact signed bytes), hosts/<host>.json (key and enrollment),
 * status/<host>.json (last seq and report), tokens/<sha256>.json, reports/<host>.log (+ .1, .2 …),
 * locks/ (lock files, no data).
 */
export function createFileStore(stateDir: string, rotation: ReportRotation, options: StoreOptions = {}): ControllerStore {
  const path = (dir: keyof typeof DIRS, name: string) => join(stateDir, DIRS[dir], name);
  const manifestPath = (host: string) => path('manifests', `${checkHost(host)}.json`);
  const hostPath = (host: string) => path('hosts', `${checkHost(host)}.json`);
  const statusPath = (host: string) => path('status', `${checkHost(host)}.json`);
  const logPath = (host: string) => path('reports', `${checkHost(host)}.log`);
  const tokenPath = (hash: string) => {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new StateFileError(hash, 'not a sha256 token hash');
    return path('tokens', `${hash}.json`);
  };
  const mutex = createKeyedMutex();
  /** Log sizes this process knows (it is the only appender while it holds the state directory). */
  const logSizes = new Map<string, number>();

  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const owned = async (file: string) => {
    if (options.owner !== undefined) await chown(file, options.owner.uid, options.owner.gid);
  };
  const writeOwned = async (file: string, data: string, mode: number) => {
    await writeFileAtomic(file, data, mode);
    await owned(file);
  };

  async function rotate(host: string): Promise<void> {
    const base = logPath(host);
    if (rotation.keepRotated === 0) {
      await rm(base, { force: true });
    } else {
      for (let i = rotation.keepRotated - 1; i >= 1; i -= 1) await renameIfExists(`${base}.${i}`, `${base}.${i + 1}`);
      await renameIfExists(base, `${base}.1`);
    }
    await fsyncDirectory(join(stateDir, DIRS.reports));
    logSizes.set(host, 0);
  }

  return {
    stateDir,
    async listManifests() {
      const hosts = (await listNames(join(stateDir, DIRS.manifests), '.json')).filter(isHostName);
      const read = await mapBounded(hosts, LIST_CONCURRENCY, async (host): Promise<{ host: string; bytes: Uint8Array } | null> => {
        const bytes = await readOptional(manifestPath(host));
        return bytes === null ? null : { host, bytes: new Uint8Array(bytes) };
      });
      return read.filter((entry) => entry !== null);
    },
    async readManifest(host) {
      const bytes = await readOptional(manifestPath(host));
      return bytes === null ? null : new Uint8Array(bytes);
    },
    writeManifest: (host, bytes) => writeFileAtomic(manifestPath(host), bytes, 0o644),
    readHost: (host) => readJson(hostPath(host), HostRecordSchema),
    writeHost: (record) => writeOwned(hostPath(record.host), json(record), 0o644),
    async removeHost(host) {
      await rm(hostPath(host), { force: true });
      await fsyncDirectory(join(stateDir, DIRS.hosts));
    },
    async listHosts() {
      const hosts = (await listNames(join(stateDir, DIRS.hosts), '.json')).filter(isHostName);
      const records = await mapBounded(hosts, LIST_CONCURRENCY, (host) => readJson(hostPath(host), HostRecordSchema));
      return records.filter((record): record is HostRecord => record !== null);
    },
    async hostStamp(host) {
      try {
        return stampOf(await stat(hostPath(host), { bigint: true }));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async readHostStamped(host) {
      const file = hostPath(host);
      let handle;
      try {
        handle = await open(file, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new StateFileError(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      try {
        const stamp = stampOf(await handle.stat({ bigint: true }));
        const record = parseJson(await handle.readFile(), HostRecordSchema, (detail) => new StateFileError(file, detail));
        return { record, stamp };
      } finally {
        await handle.close();
      }
    },
    async hostsDirStamp() {
      try {
        return stampOf(await stat(join(stateDir, DIRS.hosts), { bigint: true }));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    listHostNames: async () => (await listNames(join(stateDir, DIRS.hosts), '.json')).filter(isHostName),
    readHostStatus: (host) => readJson(statusPath(host), HostStatusRecordSchema),
    writeHostStatus: (record) => writeOwned(statusPath(record.host), json(record), 0o644),
    async listHostStatuses() {
      const hosts = (await listNames(join(stateDir, DIRS.status), '.json')).filter(isHostName);
      const records = await mapBounded(hosts, LIST_CONCURRENCY, (host) => readJson(statusPath(host), HostStatusRecordSchema));
      return records.filter((record): record is HostStatusRecord => record !== null);
    },
    readToken: (hash) => readJson(tokenPath(hash), TokenRecordSchema),
    writeToken: (hash, record) => writeOwned(tokenPath(hash), json(record), 0o644),
    async appendReport(host, entry, beforeRotate) {
      const file = logPath(host);
      const line = Buffer.from(`${JSON.stringify(entry)}\n`);
      const size = logSizes.get(host) ?? (await sizeOf(file));
      if (size > 0 && size + line.length > rotation.maxLogBytes) {
        await beforeRotate?.();
        await rotate(host);
      }
      const created = size === 0;
      try {
        await appendDurable(file, line, 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await mkdir(join(stateDir, DIRS.reports), { recursive: true, mode: 0o755 });
        await appendDurable(file, line, 0o644);
      }
      logSizes.set(host, (logSizes.get(host) ?? size) + line.length);
      if (created) await owned(file);
    },
    async readLastReport(host) {
      const base = logPath(host);
      for (const file of [base, `${base}.1`]) {
        const line = await lastLine(file, REPORT_MAX_BYTES * 2);
        if (line === null) continue;
        const parsed = parseLogLines(line);
        if (parsed.entries.length > 0) return parsed.entries[0] ?? null;
      }
      return null;
    },
    async recordReport(entry, status) {
      await this.appendReport(status.host, entry);
      await owned(logPath(status.host));
      await this.writeHostStatus(status);
    },
    async readReports(host) {
      const base = logPath(host);
      const files = [...Array.from({ length: rotation.keepRotated }, (_, i) => `${base}.${rotation.keepRotated - i}`), base];
      const entries: ReportLogEntry[] = [];
      let skipped = 0;
      for (const file of files) {
        const bytes = await readOptional(file);
        if (bytes === null) continue;
        const parsed = parseLogLines(bytes.toString('utf8'));
        entries.push(...parsed.entries);
        skipped += parsed.skipped;
      }
      return { entries, skipped };
    },
    withHostLock(host, fn) {
      return mutex.run(`identity:${checkHost(host)}`, async () => {
        const release = await acquireFileLock(path('locks', `${host}.lock`), HOST_LOCK_WAIT_MS);
        try {
          return await fn();
        } finally {
          await release();
        }
      });
    },
    lockForServer: () => acquireFileLock(controllerStatePaths(stateDir).serverLock, 0),
    async ensureLayout() {
      for (const dir of Object.values(DIRS)) {
        const full = join(stateDir, dir);
        await mkdir(full, { recursive: true, mode: 0o755 });
        await owned(full);
      }
    },
    async removeLeftovers() {
      let removed = 0;
      for (const dir of ['.', ...Object.values(DIRS)]) {
        const full = join(stateDir, dir);
        let names: string[];
        try {
          names = await readdir(full);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw error;
        }
        for (const name of names) {
          const pid = lockTempPid(name);
          if (pid !== null && !isAlive(pid)) {
            await rm(join(full, name), { force: true });
            removed += 1;
          }
        }
        const serverOnly = dir === DIRS.manifests || dir === DIRS.status;
        for (const name of names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'))) {
          const file = join(full, name);
          if (!serverOnly) {
            const modified = await stat(file).then((info) => info.mtimeMs, () => null);
            if (modified === null || Date.now() - modified < FOREIGN_TEMP_AGE_MS) continue;
          }
          await rm(file, { force: true });
          removed += 1;
        }
      }
      return removed;
    },
  };
}
