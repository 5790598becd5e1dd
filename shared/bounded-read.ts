// Reading untrusted files with bounds: only regular files, never more bytes than the caller allows.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { errnoCode, RejectedInputError } from './errors.js';

/** A FIFO, a device, a socket, a directory, or (when links are refused) a symlink where a file belongs. */
export class NotRegularFileError extends RejectedInputError {
  override name = 'NotRegularFileError' as const;
  readonly reason = 'not a regular file';
  constructor(readonly path: string, readonly what: string) {
    super(`${path} is ${what}, not a regular file`);
  }
}

/** More bytes than the caller allows (a file that grows while read counts too). */
export class FileOverCapError extends RejectedInputError {
  override name = 'FileOverCapError' as const;
  readonly reason = 'too large';
  constructor(readonly path: string, readonly cap: number) {
    super(`${path} is larger than ${cap} bytes`);
  }
}

/**
 * Opens `path` for reading only if it is a regular file: never blocks on a FIFO, and with
 * `followSymlinks: false` refuses a symlink itself. Null when it does not exist.
 */
export async function openRegularFile(path: string, options: { followSymlinks: boolean }): Promise<FileHandle | null> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (options.followSymlinks ? 0 : constants.O_NOFOLLOW);
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new NotRegularFileError(path, 'a symlink');
    throw error;
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new NotRegularFileError(path, info.isFIFO() ? 'a FIFO' : info.isDirectory() ? 'a directory' : 'a device or socket');
  }
  return handle;
}

/**
 * Streams the first `limit + 1` bytes of an open file at most, so a file longer than `limit` (or growing)
 * is refused after reading one byte past it, whatever its stat said.
 */
export async function* boundedChunks(handle: FileHandle, path: string, limit: number, chunkSize = 64 * 1024): AsyncGenerator<Buffer> {
  let position = 0;
  for (;;) {
    const want = Math.min(chunkSize, limit + 1 - position);
    if (want <= 0) throw new FileOverCapError(path, limit);
    const buffer = Buffer.alloc(want);
    const { bytesRead } = await handle.read(buffer, 0, want, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    if (position > limit) throw new FileOverCapError(path, limit);
    yield buffer.subarray(0, bytesRead);
  }
}

/** Reads a whole regular file of at most `cap` bytes; null when it does not exist. */
export async function readRegularFileCapped(path: string, cap: number, options: { followSymlinks: boolean }): Promise<Buffer | null> {
  const handle = await openRegularFile(path, options);
  if (handle === null) return null;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of boundedChunks(handle, path, cap)) chunks.push(chunk);
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}
