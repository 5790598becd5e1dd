// `export`: the signed manifests in the layout agents fetch, for any static server, object store or CDN.
import { join, resolve } from 'node:path';
import { EXIT, parseFlags, requireFlag, UsageError } from '../../shared/cli.js';
import { writeFileAtomic } from '../../shared/files.js';
import { openStateDir, stateDirOf } from './admin.js';

type Out = (text: string) => void;

export const EXPORT_USAGE = 'Usage: tsdeploy-controller export (--state-dir DIR | --config FILE) --out DIR\n';

/** Writes OUT/v1/hosts/<host>/manifest for every host, byte for byte what the controller serves. */
export async function exportCommand(args: readonly string[], io: { out: Out }): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    'state-dir': { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(EXPORT_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
  const store = await openStateDir(await stateDirOf(values), null);
  const out = resolve(requireFlag(values, 'out'));
  const manifests = await store.listManifests();
  for (const { host, bytes } of manifests) await writeFileAtomic(join(out, 'v1', 'hosts', host, 'manifest'), bytes, 0o644);
  io.out(`exported ${manifests.length} manifest(s) to ${out}/v1/hosts/<host>/manifest\n`);
  return EXIT.ok;
}
