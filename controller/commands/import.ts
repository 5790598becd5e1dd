// `import`: take a bundle into a site controller (verified first; older or altered bundles change nothing).
import { resolve } from 'node:path';
import { defineCommand, EXIT, optionalFlag } from '../../shared/cli.js';
import { printable } from '../../shared/printable.js';
import { importBundle } from '../bundle/import.js';
import { openIntake } from '../bundle/intake.js';
import { releaseKeys } from '../config.js';
import { cacheDirOf } from '../nix-cache/nix-cache.js';
import { CONTROLLER_FLAG, openSite, reportProblems, STATE_FLAGS, TRUST_FLAGS, trustFromFlags, type ControllerIo } from './context.js';

export const importCommand = defineCommand({
  name: 'import',
  summary: 'Verify a bundle, refuse an older or altered one, add its cache (served under /nix-cache/) and publish its manifests.',
  usage:
    '  --config FILE               the site controller\'s config (release keys, state directory, listen address)\n' +
    '  --state-dir DIR             with --trusted-key, instead of --config\n  --trusted-key KEY_OR_FILE   a release key (repeat)\n' +
    '  --threshold K\n  --cache-key PUBLIC_KEY_OR_FILE\n  --cache-dir DIR             where the cache files go (default: the config\'s)\n' +
    '  --controller URL            a running controller to publish through\n',
  flags: { ...STATE_FLAGS, ...TRUST_FLAGS, 'cache-dir': { type: 'string' }, ...CONTROLLER_FLAG },
  positionals: { min: 1, max: 1, names: 'BUNDLE_DIR' },
  async run({ values, positionals }, io: ControllerIo) {
    const dir = resolve(positionals[0] ?? '');
    const site = await openSite(values, io.uid, null);
    const trust = await trustFromFlags(values, site.config === null ? null : { keys: releaseKeys(site.config), threshold: site.config.releaseThreshold });
    const cacheDirFlag = optionalFlag(values, 'cache-dir');
    const cacheDir = cacheDirFlag !== undefined ? resolve(cacheDirFlag) : cacheDirOf(site.config ?? { stateDir: site.store.stateDir });
    const result = await importBundle({
      dir,
      store: site.store,
      cacheDir,
      trust,
      now: () => io.now(),
      nix: io.nix(),
      openIntake: () => openIntake({ store: site.store, trustedKeys: trust.keys, threshold: trust.threshold, controllerUrl: site.controllerUrl, now: () => io.now() }),
    });
    if (result.kind === 'refused') return reportProblems(dir, result.problems, io);
    for (const host of result.hosts) {
      if (host.result === 'refused') io.err(`${printable(`${host.host}: version ${host.version} refused: ${host.error ?? ''}`)}\n`);
      else io.out(`${host.host}: ${host.result === 'stored' ? 'published' : 'unchanged'} version ${host.version}\n`);
    }
    const via = result.mode === 'server' ? 'through the running controller' : `into ${site.store.stateDir}`;
    io.out(
      `imported bundle version ${result.index.version} (made ${result.index.createdAt}) ${via}: ` +
        `${result.copied} cache file(s) added to ${cacheDir}, ${result.kept} already there\n`,
    );
    return result.hosts.some((host) => host.result === 'refused') ? EXIT.rejected : EXIT.ok;
  },
});
