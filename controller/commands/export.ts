// `export`: the signed manifests in the layout agents fetch, for any static server, object store or CDN.
import { join, resolve } from 'node:path';
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { writeFileAtomic } from '../../shared/files.js';
import { manifestUrlPath } from '../../shared/layout.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

/** Writes OUT/v1/hosts/<host>/manifest for every host, byte for byte what the controller serves. */
export const exportCommand = defineCommand({
  name: 'export',
  summary: 'Write the manifests as OUT/v1/hosts/<host>/manifest for a static server.',
  usage: `${STATE_USAGE}  --out DIR         where to write them\n`,
  flags: { ...STATE_FLAGS, out: { type: 'string' } },
  async run({ values }, io: ControllerIo) {
    const store = await openStateDir(values, null, 'read');
    const out = resolve(requireFlag(values, 'out'));
    const manifests = await store.listManifests();
    for (const { host, bytes } of manifests) await writeFileAtomic(join(out, ...manifestUrlPath(host).split('/')), bytes, 0o644);
    io.out(`exported ${manifests.length} manifest(s) to ${out}/v1/hosts/<host>/manifest\n`);
    return EXIT.ok;
  },
});
