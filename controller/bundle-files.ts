// File effects of bundles: listing a tree, hashing and capped reads, and crash-safe streaming copies.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../shared/errors.js';
import { replaceFileAtomic } from '../shared/files.js';

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
  for (const sub of subs) await walk(sub);
  return out;
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class FileTooLargeError extends UserError {
  override name = 'FileTooLargeError' as const;
  constructor(readonly path: string, readonly cap: number) {
    super(`${path} is larger than ${cap} bytes`);
  }
}

/** Reads a whole file of at most `cap` bytes; null when it does not exist. */
export async function readFileCapped(path: string, cap: number): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    if ((await handle.stat()).size > cap) throw new FileTooLargeError(path, cap);
    return await handle.readFile();
  } finally {
    await handle.close();
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
export async function copyFileAtomic(from: string, to: string, sha256: string, mode = 0o644): Promise<void> {
  await replaceFileAtomic(to, mode, async (handle) => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(from)) {
      hash.update(chunk as Buffer);
      await handle.write(chunk as Buffer);
    }
    if (hash.digest('hex') !== sha256) throw new CopyMismatchError(from);
  });
}
