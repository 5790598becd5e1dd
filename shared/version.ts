// The package's version, as `--version` prints it: read from package.json next to the sources or the build.
import { readFileSync } from 'node:fs';

/** package.json is one level above shared/ in the sources and two above dist/shared/ in the build. */
function readVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (parsed.name === 'tsdeploy' && typeof parsed.version === 'string') return parsed.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

export const PACKAGE_VERSION = readVersion();
