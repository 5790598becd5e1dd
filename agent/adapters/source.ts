// Fetching the host's manifest from an http(s) controller or mirror, or a file:// directory, with hard limits.
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { sha256Hex as sha256 } from '../../shared/digest.js';
import { FileOverCapError, NotRegularFileError, readRegularFileCapped } from '../../shared/bounded-read.js';
import { EnvironmentError } from '../../shared/errors.js';
import { manifestUrl } from '../../shared/layout.js';
import { MANIFEST_MAX_BYTES } from '../../shared/manifest.js';
import type { ManifestSource } from '../ports.js';

export type { FetchResult, ManifestSource } from '../ports.js';
export { manifestUrl } from '../../shared/layout.js';

export class FetchError extends EnvironmentError {
  override name = 'FetchError' as const;
}

export interface SourceOptions {
  readonly source: string;
  readonly host: string;
  readonly timeoutSeconds: number;
  readonly maxBytes?: number;
}

/** Reads a response body, abandoning it once it passes `cap` bytes. */
async function readCapped(body: AsyncIterable<Buffer>, cap: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > cap) throw new FetchError(`${what} is larger than ${cap} bytes; abandoned`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function httpSource(options: SourceOptions): ManifestSource {
  const cap = options.maxBytes ?? MANIFEST_MAX_BYTES;
  const timeoutMs = options.timeoutSeconds * 1000;
  const dispatcher = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000 });
  const url = manifestUrl(options.source, options.host);
  return {
    kind: 'http',
    async fetch(etag, waitSeconds) {
      const target = waitSeconds > 0 ? `${url}?wait=${waitSeconds}` : url;
      const deadline = timeoutMs + waitSeconds * 1000;
      let response;
      try {
        response = await request(target, {
          dispatcher,
          method: 'GET',
          headers: etag === null ? {} : { 'if-none-match': etag },
          headersTimeout: deadline,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(deadline),
        });
      } catch (error) {
        throw new FetchError(`cannot fetch ${url}: ${error instanceof Error ? error.message : String(error)}`);
      }
      // Destroying an unread body emits an abort error; nobody else listens for it.
      response.body.on('error', () => undefined);
      try {
        if (response.statusCode === 304) return { kind: 'unchanged' };
        if (response.statusCode === 404) return { kind: 'none' };
        if (response.statusCode !== 200) throw new FetchError(`${url} answered HTTP ${response.statusCode}`);
        const length = Number(response.headers['content-length'] ?? '0');
        if (length > cap) throw new FetchError(`manifest at ${url} is ${length} bytes, more than ${cap}; abandoned`);
        const bytes = await readCapped(response.body, cap, `manifest at ${url}`);
        const header = response.headers['etag'];
        return { kind: 'manifest', bytes, etag: typeof header === 'string' ? header : `"${sha256(bytes)}"` };
      } catch (error) {
        if (error instanceof FetchError) throw error;
        throw new FetchError(`cannot read ${url}: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        response.body.destroy();
      }
    },
    close: () => dispatcher.close(),
  };
}

function fileSource(options: SourceOptions): ManifestSource {
  const cap = options.maxBytes ?? MANIFEST_MAX_BYTES;
  const path = fileURLToPath(manifestUrl(options.source, options.host));
  return {
    kind: 'file',
    async fetch(etag) {
      // Only a regular file, and never more than the cap: a FIFO or /dev/zero behind the path cannot hang or fill memory.
      let bytes: Buffer | null;
      try {
        bytes = await readRegularFileCapped(path, cap, { followSymlinks: true });
      } catch (error) {
        if (error instanceof FileOverCapError) throw new FetchError(`manifest ${path} is more than ${cap} bytes; ignored`);
        if (error instanceof NotRegularFileError) throw new FetchError(`manifest ${path} is ${error.what}, not a regular file; ignored`);
        throw new FetchError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      if (bytes === null) return { kind: 'none' };
      const tag = `"${sha256(bytes)}"`;
      return tag === etag ? { kind: 'unchanged' } : { kind: 'manifest', bytes, etag: tag };
    },
    close: async () => undefined,
  };
}

export function createManifestSource(options: SourceOptions): ManifestSource {
  return options.source.startsWith('file:') ? fileSource(options) : httpSource(options);
}
