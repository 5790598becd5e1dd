// Reads .narinfo files from a binary cache over HTTP (undici) and walks References, for the release plan's download sizes.
import { Agent, request } from 'undici';
import { EnvironmentError, errorMessage, OperatorError } from '../../shared/errors.js';
import { hashPart, parseNarInfo, type NarInfo } from '../bundle/narinfo.js';

export class CacheUrlError extends OperatorError {
  override name = 'CacheUrlError' as const;
  constructor(readonly url: string) {
    super(`--cache ${JSON.stringify(url)}: must be an http:// or https:// binary cache URL, for example https://cache.example.org`);
  }
}

export class CacheReadError extends EnvironmentError {
  override name = 'CacheReadError' as const;
  constructor(readonly url: string, readonly detail: string) {
    super(`binary cache ${url}: ${detail}`);
  }
}

export interface NarInfoReader {
  /** The narinfos of every path reachable from `roots` (keyed by hash part); paths the cache lacks are absent. */
  closure(roots: readonly string[]): Promise<Map<string, NarInfo>>;
  close(): Promise<void>;
}

/** How many narinfos are fetched at once. */
const PARALLEL = 8;

export function createNarInfoReader(cacheUrl: string, timeoutMs = 30_000): NarInfoReader {
  if (!/^https?:\/\/./.test(cacheUrl) || !URL.canParse(cacheUrl)) throw new CacheUrlError(cacheUrl);
  const root = cacheUrl.replace(/\/+$/, '');
  const dispatcher = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 4_000 });
  const known = new Map<string, NarInfo | null>();

  async function fetchOne(hash: string): Promise<NarInfo | null> {
    const url = `${root}/${hash}.narinfo`;
    let response;
    try {
      response = await request(url, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    } catch (error) {
      throw new CacheReadError(root, `GET ${hash}.narinfo: ${errorMessage(error)}`);
    }
    if (response.statusCode === 404 || response.statusCode === 403) {
      await response.body.dump();
      return null;
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new CacheReadError(root, `GET ${hash}.narinfo: HTTP ${response.statusCode}`);
    }
    try {
      return parseNarInfo(await response.body.text());
    } catch (error) {
      throw new CacheReadError(root, `${hash}.narinfo: ${errorMessage(error)}`);
    }
  }

  return {
    async closure(roots) {
      let frontier = [...new Set(roots.map(hashPart))];
      while (frontier.length > 0) {
        const todo = frontier.filter((hash) => !known.has(hash));
        for (let i = 0; i < todo.length; i += PARALLEL) {
          const batch = todo.slice(i, i + PARALLEL);
          const infos = await Promise.all(batch.map(fetchOne));
          batch.forEach((hash, j) => known.set(hash, infos[j] ?? null));
        }
        frontier = [...new Set(todo.flatMap((hash) => known.get(hash)?.references.map((ref) => ref.slice(0, 32)) ?? []))].filter((hash) => !known.has(hash));
      }
      const out = new Map<string, NarInfo>();
      for (const [hash, info] of known) if (info !== null) out.set(hash, info);
      return out;
    },
    close: () => dispatcher.close(),
  };
}
