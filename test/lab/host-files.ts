// What a lab host's files say, read from the real filesystem: its profile generations.
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface Generation {
  number: number;
  path: string;
  current: boolean;
}

export async function readLinkOrNull(path: string): Promise<string | null> {
  return readlink(path).catch(() => null);
}

/** Generations of /nix/var/nix/profiles/system in a host whose /nix is `nixDir`, oldest first. */
export async function profileGenerations(nixDir: string): Promise<Generation[]> {
  const profiles = join(nixDir, 'var', 'nix', 'profiles');
  const entries = await readdir(profiles).catch(() => [] as string[]);
  const current = await readLinkOrNull(join(profiles, 'system'));
  const generations = await Promise.all(
    entries.flatMap((entry) => {
      const match = /^system-(\d+)-link$/.exec(entry);
      if (match === null) return [];
      return [
        readLinkOrNull(join(profiles, entry)).then((path) => ({
          number: Number(match[1]),
          path: path ?? '',
          current: current === entry,
        })),
      ];
    }),
  );
  return generations.sort((a, b) => a.number - b.number);
}
