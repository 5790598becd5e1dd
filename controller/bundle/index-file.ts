// The signed bundle index and the pure checks of a bundle against it: files, manifests, closures, versions. No I/O.
import { z } from 'zod';
import { acceptManifest, isRejectionError } from '../../shared/accept.js';
import { encodeEnvelope, openEnvelope, parsePayload, signEnvelope } from '../../shared/dsse.js';
import { formatZodIssues } from '../../shared/json.js';
import { UserError } from '../../shared/errors.js';
import type { PublicKey, SecretKey } from '../../shared/keys.js';
import { HostNameSchema, isHostName, StorePathSchema } from '../../shared/validate.js';
import { cacheFileKind, fileHashOf, hashPart, NarInfoError, parseNarInfo, walkClosure, type NarInfo } from './narinfo.js';
import { hostOfManifestUrlPath, manifestUrlPath } from '../../shared/layout.js';

export const BUNDLE_INDEX_PAYLOAD_TYPE = 'application/vnd.tsdeploy.bundle-index.v1+json';

/** A fleet of thousands of store paths lists tens of thousands of files; far above that is not a bundle. */
export const BUNDLE_INDEX_MAX_BYTES = 64 * 1024 * 1024;

/**
 * True for the only files a bundle may hold: `cache/nix-cache-info`, `cache/<hash>.narinfo`,
 * `cache/nar/<filehash>.nar[.ext]` and `v1/hosts/<host>/manifest`. Import copies nothing else,
 * so an index cannot name a path outside these directories.
 */
export function isBundleFilePath(path: string): boolean {
  if (path.startsWith('cache/')) return cacheFileKind(path.slice('cache/'.length)) !== null;
  const host = hostOfManifestUrlPath(path);
  return host !== null && isHostName(host);
}

export const BundleFileSchema = z
  .object({
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'not a sha256 in lowercase hex'),
  })
  .strict();
export type BundleFile = z.infer<typeof BundleFileSchema>;

export const BundleHostSchema = z
  .object({
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    storePath: StorePathSchema,
  })
  .strict();
export type BundleHost = z.infer<typeof BundleHostSchema>;

const BundlePathSchema = z.string().refine(isBundleFilePath, {
  message: 'not a bundle file (cache/nix-cache-info, cache/<hash>.narinfo, cache/nar/<hash>.nar[.ext], v1/hosts/<host>/manifest)',
});

export const BundleIndexSchema = z
  .object({
    /** Grows from bundle to bundle; a site refuses one not newer than the last it imported. */
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    createdAt: z.iso.datetime({ offset: true }),
    hosts: z.record(HostNameSchema, BundleHostSchema),
    files: z.record(BundlePathSchema, BundleFileSchema),
  })
  .strict()
  .superRefine((index, ctx) => {
    if (Object.keys(index.hosts).length === 0) ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'lists no hosts' });
    if (index.files['cache/nix-cache-info'] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['files'], message: 'does not list cache/nix-cache-info' });
    }
    for (const host of Object.keys(index.hosts)) {
      if (index.files[manifestUrlPath(host)] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['files'], message: `does not list ${manifestUrlPath(host)}` });
      }
    }
    for (const path of Object.keys(index.files)) {
      const host = hostOfManifestUrlPath(path);
      if (host !== null && index.hosts[host] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['files', path], message: `is a manifest for ${host}, which the index does not list as a host` });
      }
    }
  });
export type BundleIndex = z.infer<typeof BundleIndexSchema>;

/** The envelope of an index: DSSE as everywhere, with room for a large file list. */
/** The index does not open: too large, malformed, of another type, or not signed by enough trusted keys. */
export class BundleIndexError extends UserError {
  override name = 'BundleIndexError' as const;
}

/** Default bundle version: seconds since the epoch, so bundles made anywhere, with no controller, keep growing. */
export function defaultBundleVersion(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

export interface IndexDraft {
  readonly version: number;
  readonly now: Date;
  readonly hosts: Readonly<Record<string, BundleHost>>;
  readonly files: ReadonlyMap<string, BundleFile>;
}

/** Builds an index (keys sorted, so the same bundle always signs the same bytes) and checks it against the schema. */
export function buildBundleIndex(draft: IndexDraft): BundleIndex {
  const sorted = <T>(entries: Iterable<[string, T]>): Record<string, T> =>
    Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const candidate = {
    version: draft.version,
    createdAt: draft.now.toISOString(),
    hosts: sorted(Object.entries(draft.hosts)),
    files: sorted(draft.files.entries()),
  };
  const parsed = BundleIndexSchema.safeParse(candidate);
  if (!parsed.success) throw new BundleIndexError(`invalid bundle index: ${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

/** The index.json bytes: a DSSE envelope signed with the release keys. */
export function signBundleIndex(index: BundleIndex, keys: readonly SecretKey[]): string {
  return encodeEnvelope(signEnvelope(BUNDLE_INDEX_PAYLOAD_TYPE, Buffer.from(JSON.stringify(index), 'utf8'), keys));
}

/** Verifies index.json (size, envelope, type, signatures, in that order) before parsing its payload. */
export function openBundleIndex(bytes: Uint8Array, trustedKeys: readonly PublicKey[], threshold: number): BundleIndex {
  try {
    const { payload } = openEnvelope(bytes, BUNDLE_INDEX_PAYLOAD_TYPE, trustedKeys, threshold, BUNDLE_INDEX_MAX_BYTES);
    return parsePayload(payload, BundleIndexSchema);
  } catch (error) {
    if (isRejectionError(error)) throw new BundleIndexError(error.message);
    throw error;
  }
}

/** A file found under cache/ or v1/; `sha256` is null when it was not worth hashing (size already wrong, or unlisted). */
export type PresentFile =
  | { readonly kind: 'file'; readonly size: number; readonly sha256: string | null }
  | { readonly kind: 'other' };

/** One line per listed file that is missing or altered, and per file present that the index does not list. */
export function checkBundleFiles(index: BundleIndex, present: ReadonlyMap<string, PresentFile>): string[] {
  const problems: string[] = [];
  for (const [path, want] of Object.entries(index.files)) {
    const found = present.get(path);
    if (found === undefined) problems.push(`missing: ${path}`);
    else if (found.kind === 'other') problems.push(`altered: ${path} (not a regular file)`);
    else if (found.size !== want.size) problems.push(`altered: ${path} (${found.size} bytes, the index says ${want.size})`);
    else if (found.sha256 !== want.sha256) problems.push(`altered: ${path} (sha256 differs from the index)`);
  }
  for (const [path, found] of present) {
    if (index.files[path] === undefined) problems.push(`unlisted: ${path}${found.kind === 'other' ? ' (not a regular file)' : ''}`);
  }
  return problems;
}

/**
 * Checks each host's manifest as an agent would (signatures, host, store path, expiry) and that it
 * says what the index says. `manifests` holds the bytes of those present.
 */
export function checkBundleManifests(
  index: BundleIndex,
  manifests: ReadonlyMap<string, Uint8Array>,
  trustedKeys: readonly PublicKey[],
  threshold: number,
  now: Date,
): string[] {
  const problems: string[] = [];
  for (const [host, want] of Object.entries(index.hosts)) {
    const bytes = manifests.get(host);
    if (bytes === undefined) continue;
    const path = manifestUrlPath(host);
    try {
      const result = acceptManifest({ bytes, trustedKeys, threshold, host, last: null, now });
      const { version, storePath } = result.manifest;
      if (version !== want.version) problems.push(`altered: ${path} (version ${version}, the index says ${want.version})`);
      if (storePath !== want.storePath) problems.push(`altered: ${path} (store path ${storePath}, the index says ${want.storePath})`);
    } catch (error) {
      if (!isRejectionError(error)) throw error;
      problems.push(`refused: ${path}: ${error.message}`);
    }
  }
  return problems;
}

/**
 * Checks the binary cache: nix-cache-info (its text, when present) names /nix/store; each narinfo parses, is named after its store path and agrees with the
 * index about its NAR (FileSize, FileHash); every host's closure is complete. `narinfos` maps each
 * listed `cache/<hash>.narinfo` that is present to its text (an altered one is named by checkBundleFiles).
 */
export function checkBundleCache(
  index: BundleIndex,
  narinfos: ReadonlyMap<string, string>,
  cacheInfo: string | null,
): { problems: string[]; paths: string[] } {
  const problems: string[] = [];
  if (cacheInfo !== null && !cacheInfo.split('\n').includes('StoreDir: /nix/store')) {
    problems.push('altered: cache/nix-cache-info (its StoreDir is not /nix/store)');
  }
  const parsed = new Map<string, NarInfo>();
  for (const [path, text] of narinfos) {
    let info: NarInfo;
    try {
      info = parseNarInfo(text);
    } catch (error) {
      if (!(error instanceof NarInfoError)) throw error;
      problems.push(`malformed: ${path} (${error.message})`);
      continue;
    }
    const name = path.slice('cache/'.length, -'.narinfo'.length);
    if (hashPart(info.storePath) !== name) {
      problems.push(`altered: ${path} (describes ${info.storePath})`);
      continue;
    }
    const nar = index.files[`cache/${info.url}`];
    if (nar !== undefined) {
      if (info.fileSize !== null && info.fileSize !== nar.size) problems.push(`altered: ${path} (FileSize ${info.fileSize}, cache/${info.url} has ${nar.size})`);
      if (info.fileHash !== null && info.fileHash !== fileHashOf(nar.sha256)) problems.push(`altered: ${path} (FileHash does not match cache/${info.url})`);
    }
    parsed.set(name, info);
  }
  const files = new Set(Object.keys(index.files).filter((path) => path.startsWith('cache/')).map((path) => path.slice('cache/'.length)));
  const roots = Object.entries(index.hosts).map(([host, { storePath }]) => ({ host, storePath }));
  const listedNarinfos = Object.keys(index.files)
    .filter((path) => path.endsWith('.narinfo'))
    .map((path) => path.slice('cache/'.length, -'.narinfo'.length));
  const walk = walkClosure(roots, parsed, files, new Set(listedNarinfos.filter((hash) => !parsed.has(hash))));
  return { problems: [...problems, ...walk.problems], paths: [...walk.paths] };
}

/** Null when a site may import `bundleVersion` after `lastImported`; else why not. */
export function importVersionRefusal(bundleVersion: number, lastImported: number | null): string | null {
  if (lastImported === null || bundleVersion > lastImported) return null;
  return bundleVersion === lastImported
    ? `bundle version ${bundleVersion} was already imported`
    : `bundle version ${bundleVersion} is older than the last imported bundle (version ${lastImported}): a replayed bundle`;
}
