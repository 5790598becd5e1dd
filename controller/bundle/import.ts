// Taking a bundle into a site controller: verify, refuse old or altered ones, add its cache files, publish its manifests.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '../../shared/digest.js';
import { writeFileAtomic } from '../../shared/files.js';
import { HostNameSchema } from '../../shared/validate.js';
import { copyFileAtomic, readFileCapped, sha256File } from './files.js';
import { BundleHostSchema, importVersionRefusal, type BundleIndex } from './index-file.js';
import type { StateIntake } from './intake.js';
import type { BundleNix } from './nix.js';
import { inspectBundle, type BundleTrust } from './make.js';
import { decidePublish, inspectManifest } from '../fleet/decide-publish.js';
import { acquireFileLock } from '../storage/file-lock.js';
import { readJson, type ControllerStore } from '../storage/store.js';
import { controllerStatePaths, manifestUrlPath } from '../../shared/layout.js';

/** `<stateDir>/last-bundle.json` (`controllerStatePaths().lastBundle`): what the last import brought; the next one must be newer. */
export const ImportRecordSchema = z
  .object({
    version: z.number().int().positive(),
    createdAt: z.iso.datetime({ offset: true }),
    importedAt: z.iso.datetime({ offset: true }),
    hosts: z.record(HostNameSchema, BundleHostSchema),
  })
  .strict();
export type ImportRecord = z.infer<typeof ImportRecordSchema>;

export function readImportRecord(stateDir: string): Promise<ImportRecord | null> {
  return readJson(controllerStatePaths(stateDir).lastBundle, ImportRecordSchema);
}

export type HostImport = { readonly host: string; readonly version: number; readonly result: 'stored' | 'same' | 'refused'; readonly error?: string };

export type ImportResult =
  | { readonly kind: 'refused'; readonly problems: readonly string[] }
  | {
      readonly kind: 'imported';
      readonly index: BundleIndex;
      /** Cache files written, and those already there (from earlier bundles) and kept. */
      readonly copied: number;
      readonly kept: number;
      readonly hosts: readonly HostImport[];
      readonly mode: StateIntake['mode'];
    };

export interface ImportOptions {
  readonly dir: string;
  readonly store: ControllerStore;
  readonly cacheDir: string;
  readonly trust: BundleTrust;
  readonly now: () => Date;
  readonly nix: BundleNix;
  /** Opened only once the bundle has passed every check. */
  readonly openIntake: () => Promise<StateIntake>;
}

/** NARs first, then narinfos, then nix-cache-info: a narinfo is never served before its NAR exists. */
function copyOrder(path: string): number {
  return path.startsWith('cache/nar/') ? 0 : path.endsWith('.narinfo') ? 1 : 2;
}

/** True when `dest` already holds the listed bytes (NAR names are their file hash, so size is enough for them). */
async function alreadyThere(dest: string, path: string, want: { size: number; sha256: string }): Promise<boolean> {
  const info = await stat(dest).catch(() => null);
  if (info === null || !info.isFile() || info.size !== want.size) return false;
  if (path.startsWith('cache/nar/')) return true;
  return (await sha256File(dest, want.size).catch(() => null)) === want.sha256;
}

/**
 * Imports a bundle. Every refusal (altered, incomplete, unsigned, not newer than the last import, a
 * manifest the controller would not take) comes before the first write, so a refused bundle changes
 * nothing. Cache files are only ever added or replaced, never deleted: generations that earlier
 * bundles brought stay substitutable for hosts that still run them or roll back to them.
 */
export async function importBundle(options: ImportOptions): Promise<ImportResult> {
  const { store, cacheDir } = options;
  const releaseImportLock = await acquireFileLock(controllerStatePaths(store.stateDir).importLock, 0);
  try {
    const inspection = await inspectBundle(options.dir, options.trust, options.now(), options.nix);
    if (inspection.index === null || inspection.problems.length > 0) return { kind: 'refused', problems: inspection.problems };
    const index = inspection.index;
    const last = await readImportRecord(store.stateDir);
    const versionRefusal = importVersionRefusal(index.version, last?.version ?? null);
    if (versionRefusal !== null) return { kind: 'refused', problems: [`refused: ${versionRefusal}`] };

    const intake = await options.openIntake();
    try {
      const manifests = new Map<string, Uint8Array>();
      const problems: string[] = [];
      for (const host of Object.keys(index.hosts)) {
        const path = manifestUrlPath(host);
        const bytes = new Uint8Array((await readFileCapped(join(options.dir, path), 1024 * 1024)) ?? []);
        if (sha256Hex(bytes) !== index.files[path]?.sha256) {
          problems.push(`altered: ${path} (changed after it was checked)`);
          continue;
        }
        manifests.set(host, bytes);
        const current = await store.readManifest(host);
        const inspected = inspectManifest(bytes, options.trust.keys, options.trust.threshold);
        const decision = inspected.kind === 'refuse' ? inspected : decidePublish({ verified: inspected.verified, current, now: options.now() });
        if (decision.kind === 'refuse') problems.push(`refused: ${path}: the controller would not take it (${String(decision.reply.body['error'] ?? decision.reason)})`);
      }
      if (problems.length > 0) return { kind: 'refused', problems };

      let copied = 0;
      let kept = 0;
      const cacheFiles = Object.entries(index.files)
        .filter(([path]) => path.startsWith('cache/'))
        .sort(([a], [b]) => copyOrder(a) - copyOrder(b) || (a < b ? -1 : 1));
      for (const [path, want] of cacheFiles) {
        const dest = join(cacheDir, path.slice('cache/'.length));
        if (await alreadyThere(dest, path, want)) {
          kept += 1;
          continue;
        }
        await copyFileAtomic(join(options.dir, path), dest, want, 0o644);
        copied += 1;
      }

      const hosts: HostImport[] = [];
      for (const [host, bytes] of manifests) {
        const version = index.hosts[host]?.version ?? 0;
        const outcome = await intake.publishManifest(bytes);
        if (outcome.kind === 'stored' || outcome.kind === 'same') hosts.push({ host, version, result: outcome.kind });
        else hosts.push({ host, version, result: 'refused', error: outcome.error });
      }
      if (hosts.every((host) => host.result !== 'refused')) {
        const record: ImportRecord = { version: index.version, createdAt: index.createdAt, importedAt: options.now().toISOString(), hosts: index.hosts };
        await writeFileAtomic(controllerStatePaths(store.stateDir).lastBundle, `${JSON.stringify(record, null, 2)}\n`, 0o644);
      }
      return { kind: 'imported', index, copied, kept, hosts, mode: intake.mode };
    } finally {
      await intake.close();
    }
  } finally {
    await releaseImportLock();
  }
}
