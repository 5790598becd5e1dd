// `bundle verify DIR`: checks a bundle and names every missing or altered file (exit 3).
import { resolve } from 'node:path';
import { defineCommand, EXIT } from '../../shared/cli.js';
import { inspectBundle } from '../bundle/make.js';
import { reportProblems, TRUST_FLAGS, trustFromFlags, type ControllerIo } from './context.js';

export const bundleVerifyCommand = defineCommand({
  name: 'bundle verify',
  summary: 'Check a bundle; names every missing or altered file (exit 3).',
  usage:
    '  --trusted-key KEY_OR_FILE   a release key (repeat)\n  --threshold K               signatures needed (default 1)\n' +
    '  --cache-key PUBLIC_KEY_OR_FILE  also check the cache with nix store verify\n',
  flags: TRUST_FLAGS,
  positionals: { min: 1, max: 1, names: 'DIR' },
  async run({ values, positionals }, io: ControllerIo) {
    const dir = resolve(positionals[0] ?? '');
    const trust = await trustFromFlags(values, null);
    const inspection = await inspectBundle(dir, trust, io.now(), io.nix());
    if (inspection.index === null || inspection.problems.length > 0) return reportProblems(dir, inspection.problems, io);
    const { index } = inspection;
    io.out(
      `bundle ${dir}: good (version ${index.version}, made ${index.createdAt}, ${Object.keys(index.hosts).length} host(s), ` +
        `${Object.keys(index.files).length} file(s), ${inspection.paths.length} store path(s)${trust.cacheKeys.length > 0 ? ', checked by nix store verify' : ''})\n`,
    );
    return EXIT.ok;
  },
});
