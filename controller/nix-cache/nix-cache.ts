// Serving the imported Nix binary cache read-only under /nix-cache/, streamed from files, for a site's hosts to substitute from.
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { cacheContentType, cacheFileKind, DEFAULT_NIX_CACHE_INFO, type CacheFileKind } from '../bundle/narinfo.js';
import type { ControllerConfig } from '../config.js';
import { sendError } from '../http/respond.js';
import { controllerStatePaths } from '../../shared/layout.js';

/** The cache directory: `cacheDir` from the config, else `<stateDir>/nix-cache`. */
export function cacheDirOf(config: Pick<ControllerConfig, 'cacheDir' | 'stateDir'>): string {
  return config.cacheDir ?? controllerStatePaths(config.stateDir).nixCache;
}

/** NARs never change under their name (it is their hash); narinfos may be replaced by a later import. */
export function cacheControlOf(kind: CacheFileKind): string {
  return kind === 'nar' ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * Answers GET or HEAD for `name` (the path after /nix-cache/): only names matching Nix's patterns
 * are looked up, so nothing outside the cache directory can be reached. The file is opened before
 * its size is read, so an import replacing it meanwhile serves the old file whole.
 */
export async function serveNixCache(req: IncomingMessage, res: ServerResponse, cacheDir: string, name: string): Promise<void> {
  const kind = cacheFileKind(name);
  if (kind === null) return sendError(res, 404, `no such cache file: ${name}`);
  let handle;
  try {
    handle = await open(join(cacheDir, name), 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (kind === 'nix-cache-info' && code === 'ENOENT') {
      // Before the first import: an empty cache, so hosts configured early get "not found" per path, not an error.
      res.writeHead(200, { 'Content-Type': cacheContentType(kind), 'Content-Length': Buffer.byteLength(DEFAULT_NIX_CACHE_INFO), 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : DEFAULT_NIX_CACHE_INFO);
      return;
    }
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return sendError(res, 404, `no such cache file: ${name}`);
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return sendError(res, 404, `no such cache file: ${name}`);
    res.writeHead(200, { 'Content-Type': cacheContentType(kind), 'Content-Length': info.size, 'Cache-Control': cacheControlOf(kind) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    try {
      await pipeline(handle.createReadStream({ autoClose: false }), res);
    } catch {
      // The client went away mid-file; the response is already cut.
      res.destroy();
    }
  } finally {
    await handle.close();
  }
}
