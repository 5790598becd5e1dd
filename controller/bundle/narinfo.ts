// Nix binary-cache pieces a bundle is checked with: file-name patterns, .narinfo parsing, Nix base-32, the closure walk. No I/O.
import { UserError } from '../../shared/errors.js';
import { isStorePath } from '../../shared/validate.js';

/** Nix's base-32 alphabet: digits and lowercase letters without e, o, u, t. */
const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';
const HASH32 = `[${NIX_BASE32}]{32}`;
const HASH52 = `[${NIX_BASE32}]{52}`;

/** The extensions `nix copy` gives a compressed NAR (none for compression=none). */
const NAR_EXT = '(?:\\.(?:xz|bz2|zst|lzip|lz4|br))?';

const NARINFO_NAME_RE = new RegExp(`^${HASH32}\\.narinfo$`);
const NAR_NAME_RE = new RegExp(`^nar/${HASH52}\\.nar${NAR_EXT}$`);

export type CacheFileKind = 'nix-cache-info' | 'narinfo' | 'nar';

/**
 * What a name inside a binary cache is, or null: only `nix-cache-info`, `<hash>.narinfo` and
 * `nar/<filehash>.nar[.ext]` exist, so nothing else (no "..", no other directory) is ever read or served.
 */
export function cacheFileKind(name: string): CacheFileKind | null {
  if (name === 'nix-cache-info') return 'nix-cache-info';
  if (NARINFO_NAME_RE.test(name)) return 'narinfo';
  if (NAR_NAME_RE.test(name)) return 'nar';
  return null;
}

/** The content type Nix's HTTP binary caches use for each kind of file. */
export function cacheContentType(kind: CacheFileKind): string {
  switch (kind) {
    case 'nix-cache-info':
      return 'text/x-nix-cache-info';
    case 'narinfo':
      return 'text/x-nix-narinfo';
    case 'nar':
      return 'application/x-nix-nar';
  }
}

/** What `nix copy --to file://…` writes as the cache's description; also served when nothing was imported yet. */
export const DEFAULT_NIX_CACHE_INFO = 'StoreDir: /nix/store\n';

/** Nix's base-32 encoding (as in FileHash and store-path hashes): the last 5-bit group comes first. */
export function nixBase32(bytes: Uint8Array): string {
  const length = Math.ceil((bytes.length * 8) / 5);
  let out = '';
  for (let n = length - 1; n >= 0; n -= 1) {
    const bit = n * 5;
    const i = Math.floor(bit / 8);
    const j = bit % 8;
    const low = (bytes[i] ?? 0) >> j;
    const high = i + 1 < bytes.length ? (bytes[i + 1] ?? 0) << (8 - j) : 0;
    out += NIX_BASE32[(low | high) & 0x1f];
  }
  return out;
}

/** The narinfo FileHash of a file whose sha256 is `hex`. */
export function fileHashOf(sha256Hex: string): string {
  return `sha256:${nixBase32(new Uint8Array(Buffer.from(sha256Hex, 'hex')))}`;
}

export class NarInfoError extends UserError {
  override name = 'NarInfoError' as const;
}

export interface NarInfo {
  readonly storePath: string;
  /** Relative to the cache root, e.g. "nar/1kxx….nar.xz". */
  readonly url: string;
  readonly compression: string;
  readonly fileHash: string | null;
  readonly fileSize: number | null;
  readonly narHash: string;
  readonly narSize: number;
  /** Store-path base names ("<hash>-<name>"), the path itself included when it refers to itself. */
  readonly references: readonly string[];
  readonly sigs: readonly string[];
}

function sizeField(value: string | undefined, key: string, required: boolean): number | null {
  if (value === undefined) {
    if (required) throw new NarInfoError(`no ${key}`);
    return null;
  }
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new NarInfoError(`${key} is not a number: ${JSON.stringify(value)}`);
  return Number(value);
}

/** Parses a .narinfo ("Key: value" lines); unknown keys (Deriver, System, CA) are ignored. */
export function parseNarInfo(text: string): NarInfo {
  const fields = new Map<string, string>();
  const sigs: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    // "Key: value", or "Key:" for an empty value (Nix writes "References: " with its space).
    const colon = line.indexOf(': ');
    const key = colon >= 0 ? line.slice(0, colon) : line.endsWith(':') ? line.slice(0, -1) : '';
    const value = colon < 0 ? '' : line.slice(colon + 2);
    if (!/^[A-Za-z]+$/.test(key)) throw new NarInfoError(`malformed line ${JSON.stringify(line.slice(0, 80))}`);
    if (key === 'Sig') sigs.push(value);
    else if (fields.has(key)) throw new NarInfoError(`${key} given twice`);
    else fields.set(key, value);
  }
  const storePath = fields.get('StorePath');
  if (storePath === undefined || !isStorePath(storePath)) throw new NarInfoError(`StorePath is missing or not a store path`);
  const url = fields.get('URL');
  if (url === undefined || cacheFileKind(url) !== 'nar') throw new NarInfoError(`URL is missing or not nar/<hash>.nar[.ext]: ${JSON.stringify(url ?? '')}`);
  const narHash = fields.get('NarHash');
  if (narHash === undefined || narHash === '') throw new NarInfoError('no NarHash');
  const referencesText = fields.get('References') ?? '';
  const references = referencesText.trim() === '' ? [] : referencesText.trim().split(/\s+/);
  for (const reference of references) {
    if (!isStorePath(`/nix/store/${reference}`)) throw new NarInfoError(`reference is not a store path: ${JSON.stringify(reference)}`);
  }
  return {
    storePath,
    url,
    compression: fields.get('Compression') ?? 'bzip2',
    fileHash: fields.get('FileHash') ?? null,
    fileSize: sizeField(fields.get('FileSize'), 'FileSize', false),
    narHash,
    narSize: sizeField(fields.get('NarSize'), 'NarSize', true) ?? 0,
    references,
    sigs,
  };
}

/** The 32-character hash part of a store path: the name of its narinfo. */
export function hashPart(storePath: string): string {
  return storePath.slice('/nix/store/'.length, '/nix/store/'.length + 32);
}

export interface ClosureRoot {
  readonly host: string;
  readonly storePath: string;
}

export interface ClosureWalk {
  /** Every store path reached, roots included. */
  readonly paths: readonly string[];
  /** One line per missing narinfo or NAR, naming the file and the host whose closure needs it. */
  readonly problems: readonly string[];
}

/**
 * Follows `References:` from every root through the narinfos given (keyed by hash part) and checks
 * that each reached path has a narinfo for itself and that its NAR (`URL:`) is one of `files`
 * (paths relative to the cache root). Each missing file is named once; a listed NAR that is absent is
 * the file check's to name.
 */
export function walkClosure(
  roots: readonly ClosureRoot[],
  narinfos: ReadonlyMap<string, NarInfo>,
  files: ReadonlySet<string>,
  /** Hash parts whose narinfo is already named as missing or broken elsewhere: not named again. */
  reported: ReadonlySet<string> = new Set(),
): ClosureWalk {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const root of roots) {
    const queue = [root.storePath];
    while (queue.length > 0) {
      const path = queue.shift() ?? '';
      if (seen.has(path)) continue;
      seen.add(path);
      const hash = hashPart(path);
      const info = narinfos.get(hash);
      if (info === undefined) {
        if (!reported.has(hash)) problems.push(`missing: cache/${hash}.narinfo (${path}, in the closure of ${root.host})`);
        continue;
      }
      if (info.storePath !== path) {
        problems.push(`altered: cache/${hash}.narinfo (describes ${info.storePath}, not ${path})`);
        continue;
      }
      if (!files.has(info.url)) problems.push(`missing: cache/${info.url} (NAR of ${path}, in the closure of ${root.host})`);
      for (const reference of info.references) queue.push(`/nix/store/${reference}`);
    }
  }
  return { paths: [...seen], problems };
}
