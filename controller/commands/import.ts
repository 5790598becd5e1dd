// `import`: take a bundle into a site controller (verified first; older or altered bundles change nothing).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EXIT, optionalFlag, parseFlags, UsageError } from '../../shared/cli.js';
import { importBundle } from '../bundle-import.js';
import { openIntake, urlOfListen } from '../bundle-intake.js';
import type { BundleNix } from '../bundle-nix.js';
import { loadControllerConfig, releaseKeys, type ControllerConfig } from '../config.js';
import { cacheDirOf } from '../nix-cache.js';
import { createFileStore, type ControllerStore, type ReportRotation } from '../store.js';
import { NoStateDirError } from './admin.js';
import { reportProblems, trustFromFlags } from './bundle.js';

type Out = (text: string) => void;

export interface SiteIo {
  readonly out: Out;
  readonly err: Out;
  readonly now: () => Date;
  readonly uid: number | null;
}

export interface Site {
  readonly config: ControllerConfig | null;
  readonly store: ControllerStore;
  /** Where a running server is reached: --controller, else the config's listen address. */
  readonly controllerUrl: string | null;
}

const DEFAULT_ROTATION: ReportRotation = { maxLogBytes: 1024 * 1024, keepRotated: 3 };

/**
 * The controller's state directory from --state-dir or --config (which also gives the release keys,
 * report rotation and listen address). Run as root on a directory owned by the service's user, new
 * files are given to that user, as the admin commands do.
 */
export async function openSite(values: Record<string, unknown>, uid: number | null): Promise<Site> {
  const configFile = optionalFlag(values, 'config');
  const config = configFile === undefined ? null : await loadControllerConfig(configFile);
  const stateDirFlag = optionalFlag(values, 'state-dir');
  const stateDir = stateDirFlag !== undefined ? resolve(stateDirFlag) : config?.stateDir;
  if (stateDir === undefined) throw new UsageError('give --config FILE or --state-dir DIR');
  const info = await stat(stateDir).catch(() => null);
  if (info === null || !info.isDirectory()) throw new NoStateDirError(stateDir);
  const owner = uid === 0 && info.uid !== 0 ? { uid: info.uid, gid: info.gid } : undefined;
  const store = createFileStore(stateDir, config?.reports ?? DEFAULT_ROTATION, owner === undefined ? {} : { owner });
  const controllerUrl = optionalFlag(values, 'controller') ?? (config === null ? null : urlOfListen(config.listen));
  return { config: config === null ? null : { ...config, stateDir }, store, controllerUrl };
}

export const IMPORT_USAGE =
  'Usage: tsdeploy-controller import (--config FILE | --state-dir DIR --trusted-key KEY_OR_FILE [--trusted-key ...])\n' +
  '         [--threshold K] [--cache-key PUBLIC_KEY_OR_FILE ...] [--cache-dir DIR] [--controller URL] BUNDLE_DIR\n';

export async function importCommand(args: readonly string[], io: SiteIo & { nix: BundleNix }): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    config: { type: 'string' },
    'state-dir': { type: 'string' },
    'trusted-key': { type: 'string', multiple: true },
    threshold: { type: 'string' },
    'cache-key': { type: 'string', multiple: true },
    'cache-dir': { type: 'string' },
    controller: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(IMPORT_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('import takes exactly one bundle DIR');
  const dir = resolve(positionals[0] ?? '');
  const site = await openSite(values, io.uid);
  const trust = await trustFromFlags(values, site.config === null ? null : { keys: releaseKeys(site.config), threshold: site.config.releaseThreshold });
  const cacheDirFlag = optionalFlag(values, 'cache-dir');
  const cacheDir = cacheDirFlag !== undefined ? resolve(cacheDirFlag) : cacheDirOf(site.config ?? { stateDir: site.store.stateDir });
  const result = await importBundle({
    dir,
    store: site.store,
    cacheDir,
    trust,
    now: io.now,
    nix: io.nix,
    openIntake: () => openIntake({ store: site.store, trustedKeys: trust.keys, threshold: trust.threshold, controllerUrl: site.controllerUrl, now: io.now }),
  });
  if (result.kind === 'refused') return reportProblems(dir, result.problems, io);
  for (const host of result.hosts) {
    if (host.result === 'refused') io.err(`${host.host}: version ${host.version} refused: ${host.error ?? ''}\n`);
    else io.out(`${host.host}: ${host.result === 'stored' ? 'published' : 'unchanged'} version ${host.version}\n`);
  }
  const via = result.mode === 'server' ? 'through the running controller' : `into ${site.store.stateDir}`;
  io.out(
    `imported bundle version ${result.index.version} (made ${result.index.createdAt}) ${via}: ` +
      `${result.copied} cache file(s) added to ${cacheDir}, ${result.kept} already there\n`,
  );
  return result.hosts.some((host) => host.result === 'refused') ? EXIT.rejected : EXIT.ok;
}
