// Which store paths a binary cache does not have: the narinfo of each root, read over HTTP.
import { hashPart } from '../bundle/narinfo.js';
import { createNarInfoReader } from './narinfo-reader.js';

export async function missingFromCache(cacheUrl: string, paths: readonly string[]): Promise<Set<string>> {
  const reader = createNarInfoReader(cacheUrl);
  try {
    const found = await reader.closure([...new Set(paths)]);
    return new Set(paths.filter((path) => !found.has(hashPart(path))));
  } finally {
    await reader.close();
  }
}
