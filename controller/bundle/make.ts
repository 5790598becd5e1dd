// Making a bundle (closures in a signed file cache, signed manifests, a signed index) and inspecting one as verify and import do.
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import { formatPublicKey, publicKeyOf, readSecretKeyFile, type PublicKey, type SecretKey } from '../../shared/keys.js';
import type { Activation } from '../../shared/manifest.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import {
  BUNDLE_INDEX_MAX_BYTES,
  BundleIndexError,
  buildBundleIndex,
  checkBundleCache,
  checkBundleFiles,
  checkBundleManifests,
  isBundleFilePath,
  openBundleIndex,
  signBundleIndex,
  type BundleFile,
  type BundleHost,
  type BundleIndex,
  type PresentFile,
} from './index-file.js';
import { NotRegularFileError } from '../../shared/bounded-read.js';
import { FileTooLargeError, listTree, readFileCapped, sha256File } from './files.js';
import { BundleDirError, type BundleNix } from './nix.js';
import { manifestUrlPath } from '../../shared/layout.js';

/** The index's own file, beside cache/ and v1/. */
export const INDEX_FILE = 'index.json';

/** Far above any real manifest or narinfo; the checks that follow apply the real limits. */
const SMALL_FILE_CAP = 4 * 1024 * 1024;

export interface BundleOptions {
  /** Host → store path, as in a release file. */
  readonly hosts: Readonly<Record<string, string>>;
  readonly keys: readonly SecretKey[];
  readonly cacheKeyFile: string;
  /** Absolute; must not exist or be empty. */
  readonly out: string;
  readonly version: number;
  readonly activation: Activation;
  readonly expiresInMs: number;
  readonly system: string;
  readonly now: Date;
}

export interface BundleSummary {
  readonly version: number;
  readonly hosts: number;
  readonly files: number;
  readonly bytes: number;
  /** The key hosts must trust for the bundle's cache ("name:base64"). */
  readonly cachePublicKey: string;
}

async function ensureEmptyDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (info !== null) {
    if (!info.isDirectory()) throw new BundleDirError(`${dir} exists and is not a directory`);
    if ((await readdir(dir)).length > 0) throw new BundleDirError(`refusing to write into ${dir}: it is not empty`);
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
}

/**
 * Writes a bundle: manifests are signed first (a bad release fails before Nix runs), then Nix signs
 * and copies the closures, and index.json comes last, so a bundle without its index is visibly unfinished.
 */
export async function createBundle(options: BundleOptions, nix: BundleNix): Promise<BundleSummary> {
  const cacheKey = await readSecretKeyFile(options.cacheKeyFile);
  const manifests = new Map<string, string>();
  const hosts: Record<string, BundleHost> = {};
  for (const [host, storePath] of Object.entries(options.hosts)) {
    const manifest = buildManifest({
      host,
      storePath,
      version: options.version,
      activation: options.activation,
      expiresInMs: options.expiresInMs,
      system: options.system,
      now: options.now,
    });
    manifests.set(host, signManifest(manifest, options.keys));
    hosts[host] = { version: manifest.version, storePath };
  }
  await ensureEmptyDir(options.out);
  const paths = [...new Set(Object.values(options.hosts))].sort();
  await nix.signAndCopy(options.cacheKeyFile, join(options.out, 'cache'), paths);
  for (const [host, envelope] of manifests) await writeFileAtomic(join(options.out, manifestUrlPath(host)), envelope, 0o644);
  const files = new Map<string, BundleFile>();
  let bytes = 0;
  for (const [path, entry] of await listTree(options.out, ['cache', 'v1'])) {
    if (entry.kind !== 'file' || !isBundleFilePath(path)) {
      throw new BundleDirError(`unexpected ${entry.kind === 'file' ? 'file' : 'entry'} ${path} in the bundle (is write-nar-listing or a log upload configured?)`);
    }
    files.set(path, { size: entry.size, sha256: await sha256File(join(options.out, path), entry.size) });
    bytes += entry.size;
  }
  const index = buildBundleIndex({ version: options.version, now: options.now, hosts, files });
  await writeFileAtomic(join(options.out, INDEX_FILE), signBundleIndex(index, options.keys), 0o644);
  return {
    version: index.version,
    hosts: Object.keys(hosts).length,
    files: files.size,
    bytes,
    cachePublicKey: formatPublicKey(publicKeyOf(cacheKey)),
  };
}

export interface BundleTrust {
  readonly keys: readonly PublicKey[];
  readonly threshold: number;
  /** Cache public keys ("name:base64") for `nix store verify`; none skips that step. */
  readonly cacheKeys: readonly string[];
}

export interface BundleInspection {
  /** Null when index.json is missing or does not open with the trusted keys. */
  readonly index: BundleIndex | null;
  /** One line per problem, each naming a file; empty for a good bundle. */
  readonly problems: readonly string[];
  /** Every store path in the hosts' closures. */
  readonly paths: readonly string[];
}

/**
 * Everything `bundle verify` and `import` check: the index signature, every file's size and sha256,
 * no unlisted files under cache/ or v1/, every manifest, the closures; then, if all that is good and
 * cache keys are given, real Nix over the cache.
 */
export async function inspectBundle(dir: string, trust: BundleTrust, now: Date, nix: BundleNix): Promise<BundleInspection> {
  const refused = (problem: string): BundleInspection => ({ index: null, problems: [problem], paths: [] });
  let indexBytes: Buffer | null;
  try {
    indexBytes = await readFileCapped(join(dir, INDEX_FILE), BUNDLE_INDEX_MAX_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) return refused(`refused: ${INDEX_FILE}: larger than ${BUNDLE_INDEX_MAX_BYTES} bytes`);
    if (error instanceof NotRegularFileError) return refused(`refused: ${INDEX_FILE}: ${error.what}, not a regular file`);
    throw error;
  }
  if (indexBytes === null) return refused(`missing: ${INDEX_FILE} (not a bundle, or not finished)`);
  let index: BundleIndex;
  try {
    index = openBundleIndex(indexBytes, trust.keys, trust.threshold);
  } catch (error) {
    if (error instanceof BundleIndexError) return refused(`refused: ${INDEX_FILE}: ${error.message}`);
    throw error;
  }

  const present = new Map<string, PresentFile>();
  for (const [path, entry] of await listTree(dir, ['cache', 'v1'])) {
    if (entry.kind !== 'file') {
      present.set(path, entry);
      continue;
    }
    const listed = index.files[path];
    // Read no more than the index declares: a file that grew or was swapped since it was listed is altered.
    const sha256 = listed !== undefined && listed.size === entry.size ? await sha256File(join(dir, path), listed.size).catch(() => null) : null;
    present.set(path, { kind: 'file', size: entry.size, sha256 });
  }
  const tooLarge: string[] = [];
  for (const sub of ['cache', 'v1']) {
    if (present.get(sub)?.kind !== 'other') continue;
    present.delete(sub);
    tooLarge.push(`refused: ${sub} is a symlink or a special file, not a directory`);
  }
  const readSmall = async (path: string): Promise<Buffer | null> => {
    if (present.get(path)?.kind !== 'file') return null;
    try {
      return await readFileCapped(join(dir, path), SMALL_FILE_CAP);
    } catch (error) {
      if (error instanceof NotRegularFileError) {
        tooLarge.push(`refused: ${path}: ${error.what}, not a regular file`);
        return null;
      }
      if (!(error instanceof FileTooLargeError)) throw error;
      tooLarge.push(`refused: ${path}: larger than ${SMALL_FILE_CAP} bytes`);
      return null;
    }
  };

  const manifests = new Map<string, Uint8Array>();
  for (const host of Object.keys(index.hosts)) {
    const bytes = await readSmall(manifestUrlPath(host));
    if (bytes !== null) manifests.set(host, new Uint8Array(bytes));
  }
  const narinfos = new Map<string, string>();
  for (const path of Object.keys(index.files).filter((p) => p.endsWith('.narinfo'))) {
    const bytes = await readSmall(path);
    if (bytes !== null) narinfos.set(path, bytes.toString('utf8'));
  }
  const cacheInfo = (await readSmall('cache/nix-cache-info'))?.toString('utf8') ?? null;

  const cache = checkBundleCache(index, narinfos, cacheInfo);
  const problems = [
    ...checkBundleFiles(index, present),
    ...tooLarge,
    ...checkBundleManifests(index, manifests, trust.keys, trust.threshold, now),
    ...cache.problems,
  ];
  if (problems.length === 0 && trust.cacheKeys.length > 0) {
    const roots = [...new Set(Object.values(index.hosts).map((host) => host.storePath))];
    problems.push(...(await nix.verify(join(dir, 'cache'), trust.cacheKeys, roots)));
  }
  return { index, problems, paths: cache.paths };
}
