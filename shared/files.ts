// Crash-safe writes: temp file in the same directory, fsync, rename, fsync of the directory.
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with what `fill` writes into a temp file beside it, so that a crash leaves either the
 * old or the new file, whole. If `fill` throws, the temp file is removed and `path` is untouched.
 */
export async function replaceFileAtomic(path: string, mode: number, fill: (handle: FileHandle) => Promise<void>): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await fill(handle);
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(dir);
}

/** Replaces `path` with `data`: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await replaceFileAtomic(path, mode, (handle) => handle.writeFile(data));
}

/** Makes a rename or unlink in `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Appends one line and fsyncs it; for append-only logs whose readers skip a torn last line. */
export async function appendLineDurable(path: string, line: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a', mode);
  try {
    await handle.write(`${line}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Appends `data` to a file whose directory exists, and makes it durable with one fdatasync (which
 * includes the new size): the hot path of report intake.
 */
export async function appendDurable(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const handle = await open(path, 'a', mode);
  try {
    await handle.write(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** True when something exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
