// `bundle`: a self-contained directory for an air-gapped site: signed manifests, cache and index.
import { resolve } from 'node:path';
import { defineCommand, EXIT, optionalFlag, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { positiveInteger, secretKeyFile } from '../../shared/flag-checks.js';
import { localNixSystem } from '../../shared/sign-manifest.js';
import { defaultBundleVersion } from '../bundle/index-file.js';
import { createBundle } from '../bundle/make.js';
import { activationFrom, secretKeysFrom, SIGNING_FLAGS, type ControllerIo } from './context.js';
import { loadRelease } from './release-file.js';

/** Signs every host's manifest at one version, copies the closures into DIR/cache, writes DIR/index.json. */
export const bundleCommand = defineCommand({
  name: 'bundle',
  summary: 'A self-contained directory: signed cache, manifests, signed index.',
  usage:
    '  --release FILE              host → store path, as for publish\n  --key SECRET_FILE           a release key (repeat for a threshold)\n' +
    '  --cache-key CACHE_SECRET    signs the bundle\'s binary cache\n  --out DIR\n' +
    '  --version N                 defaults to the seconds since the epoch, so successive bundles grow with no controller\n' +
    '  --expires-in 30d\n  --activation MODE\n  --system SYSTEM\n',
  flags: {
    release: { type: 'string' },
    key: SIGNING_FLAGS.key,
    'cache-key': { type: 'string', check: secretKeyFile },
    out: { type: 'string' },
    version: { type: 'string', check: positiveInteger },
    'expires-in': { ...SIGNING_FLAGS['expires-in'], default: '30d' },
    activation: SIGNING_FLAGS.activation,
    system: SIGNING_FLAGS.system,
  },
  async run({ values }, io: ControllerIo) {
    if ((values.key ?? []).length === 0) throw new UsageError('missing required option --key');
    const activation = activationFrom(values);
    const release = await loadRelease(requireFlag(values, 'release'));
    const cacheKeyFile = resolve(requireFlag(values, 'cache-key'));
    const out = resolve(requireFlag(values, 'out'));
    const versionFlag = optionalFlag(values, 'version');
    const now = io.now();
    const summary = await createBundle(
      {
        hosts: release.hosts,
        keys: await secretKeysFrom(values),
        cacheKeyFile,
        out,
        version: versionFlag === undefined ? defaultBundleVersion(now) : parsePositiveInt(versionFlag, 'version'),
        activation,
        expiresInMs: parseDuration(values['expires-in'] ?? '30d'),
        system: optionalFlag(values, 'system') ?? localNixSystem(),
        now,
      },
      io.nix(),
    );
    io.out(
      `bundle ${out}: version ${summary.version}, ${summary.hosts} host(s), ${summary.files} file(s), ${summary.bytes} bytes\n` +
        `hosts must trust the bundle's cache key: ${summary.cachePublicKey}\n`,
    );
    return EXIT.ok;
  },
});
