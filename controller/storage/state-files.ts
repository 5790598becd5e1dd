// Small file-system reads of the state directory: missing files as null or empty, report log lines.
import { open, readFile, readdir, rename, stat } from 'node:fs/promises';
import { ReportLogEntrySchema, type ReportLogEntry } from './records.js';

export async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export async function listNames(dir: string, suffix: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((name) => name.endsWith(suffix) && !name.startsWith('.'))
      .map((name) => name.slice(0, -suffix.length))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Parses a log's lines; unparseable lines are counted, not fatal. */
export function parseLogLines(text: string): { entries: ReportLogEntry[]; skipped: number } {
  const entries: ReportLogEntry[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const parsed = ReportLogEntrySchema.safeParse(JSON.parse(line));
      if (parsed.success) entries.push(parsed.data);
      else skipped += 1;
    } catch {
      skipped += 1;
    }
  }
  return { entries, skipped };
}

/**
 * The last newline-terminated line of a file (a torn line after it, never acknowledged, is skipped),
 * reading at most `maxBytes` from its end; null when there is no whole line.
 */
export async function lastLine(path: string, maxBytes: number): Promise<string | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return null;
    const start = text.lastIndexOf('\n', end - 1) + 1;
    if (start === 0 && length < size) return null;
    return text.slice(start, end);
  } finally {
    await handle.close();
  }
}
