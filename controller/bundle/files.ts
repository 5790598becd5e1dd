// File effects of bundles: listing a tree, hashing and capped reads, and crash-safe streaming copies.
import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { boundedChunks, FileOverCapError, NotRegularFileError, openRegularFile, readRegularFileCapped } from '../../shared/bounded-read.js';
import { UserError } from '../../shared/errors.js';
import { replaceFileAtomic } from '../../shared/files.js';

/** A regular file with its size, or anything else (symlink, device, socket) found where files belong. */
export type TreeEntry = { readonly kind: 'file'; readonly size: number } | { readonly kind: 'other' };

/**
 * Every entry under `root/<sub>` for each `sub`, keyed by its path relative to `root` with "/".
 * Directories are walked, not listed (Nix makes empty log/ and realisations/ in a file cache);
 * symlinks are never followed.
 */
export async function listTree(root: string, subs: readonly string[]): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (relative: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(root, relative), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.set(path, { kind: 'file', size: (await lstat(join(root, path))).size });
      else out.set(path, { kind: 'other' });
    }
  };
  for (const sub of subs) {
    // The directories themselves must be directories: a symlinked cache/ would bring in another tree.
    const info = await lstat(join(root, sub)).catch(() => null);
    if (info === null) continue;
    if (!info.isDirectory()) out.set(sub, { kind: 'other' });
    else await walk(sub);
  }
  return out;
}

/**
 * sha256 (hex) of a regular file (never a symlink, FIFO or device), streamed, reading at most `limit`
 * bytes: a longer file (or one that grows meanwhile) is refused with FileOverCapError.
 */
export async function sha256File(path: string, limit: number): Promise<string> {
  const handle = await openRegularFile(path, { followSymlinks: false });
  if (handle === null) throw new NotRegularFileError(path, 'missing');
  try {
    const hash = createHash('sha256');
    for await (const chunk of boundedChunks(handle, path, limit)) hash.update(chunk);
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

export class FileTooLargeError extends UserError {
  override name = 'FileTooLargeError' as const;
  constructor(readonly path: string, readonly cap: number) {
    super(`${path} is larger than ${cap} bytes`);
  }
}

/**
 * Reads a whole regular file of at most `cap` bytes; null when it does not exist. A symlink, FIFO or
 * device is refused (NotRegularFileError), and never more than `cap + 1` bytes are read, whatever the
 * file's size says.
 */
export async function readFileCapped(path: string, cap: number): Promise<Buffer | null> {
  try {
    return await readRegularFileCapped(path, cap, { followSymlinks: false });
  } catch (error) {
    if (error instanceof FileOverCapError) throw new FileTooLargeError(path, cap);
    throw error;
  }
}

/** The source changed between the check and the copy (media swapped or written to meanwhile). */
export class CopyMismatchError extends UserError {
  override name = 'CopyMismatchError' as const;
  constructor(readonly path: string) {
    super(`${path} changed while it was being imported (sha256 differs from the index); nothing further was imported`);
  }
}

/**
 * Copies `from` to `to` like writeFileAtomic (temp file in the same directory, fsync, rename, fsync of
 * the directory), streaming so large NARs never sit in memory, and only when the bytes copied have
 * the sha256 the index promised.
 */
export async function copyFileAtomic(from: string, to: string, want: { sha256: string; size: number }, mode = 0o644): Promise<void> {
  const source = await openRegularFile(from, { followSymlinks: false });
  if (source === null) throw new CopyMismatchError(from);
  try {
    await replaceFileAtomic(to, mode, async (handle) => {
      const hash = createHash('sha256');
      try {
        for await (const chunk of boundedChunks(source, from, want.size)) {
          hash.update(chunk);
          await handle.write(chunk);
        }
      } catch (error) {
        if (error instanceof FileOverCapError) throw new CopyMismatchError(from);
        throw error;
      }
      if (hash.digest('hex') !== want.sha256) throw new CopyMismatchError(from);
    });
  } finally {
    await source.close();
  }
}
