// `bundle` and `bundle verify`: a self-contained directory for an air-gapped site, and its check.
import { resolve } from 'node:path';
import { EXIT, optionalFlag, parseFlags, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { formatPublicKey, loadPublicKey, readSecretKeyFile, type PublicKey } from '../../shared/keys.js';
import { ActivationSchema } from '../../shared/manifest.js';
import { localNixSystem } from '../../shared/sign-manifest.js';
import { defaultBundleVersion } from '../bundle-index.js';
import type { BundleNix } from '../bundle-nix.js';
import { createBundle, inspectBundle, type BundleTrust } from '../bundle.js';
import { loadRelease } from './publish.js';

type Out = (text: string) => void;

export interface BundleIo {
  readonly out: Out;
  readonly err: Out;
  readonly now: () => Date;
  readonly nix: BundleNix;
}

export const BUNDLE_USAGE =
  'Usage: tsdeploy-controller bundle --release FILE --key SECRET_FILE [--key ...] --cache-key CACHE_SECRET_FILE --out DIR\n' +
  '         [--version N] [--expires-in 30d] [--activation switch|boot|test|dry-activate] [--system SYSTEM]\n' +
  '       tsdeploy-controller bundle verify DIR --trusted-key KEY_OR_FILE [--trusted-key ...] [--threshold K]\n' +
  '         [--cache-key PUBLIC_KEY_OR_FILE ...]\n' +
  '  The version defaults to the seconds since the epoch, so successive bundles grow with no controller.\n';

/** `bundle`: signs every host's manifest at one version, copies the closures into DIR/cache, writes DIR/index.json. */
export async function bundleCommand(args: readonly string[], io: BundleIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    release: { type: 'string' },
    key: { type: 'string', multiple: true },
    'cache-key': { type: 'string' },
    out: { type: 'string' },
    version: { type: 'string' },
    'expires-in': { type: 'string', default: '30d' },
    activation: { type: 'string', default: 'switch' },
    system: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(BUNDLE_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
  const keyFiles = values.key ?? [];
  if (keyFiles.length === 0) throw new UsageError('missing required option --key');
  const activation = ActivationSchema.safeParse(values.activation);
  if (!activation.success) throw new UsageError('--activation must be one of switch, boot, test, dry-activate');
  const release = await loadRelease(requireFlag(values, 'release'));
  const cacheKeyFile = resolve(requireFlag(values, 'cache-key'));
  const out = resolve(requireFlag(values, 'out'));
  const versionFlag = optionalFlag(values, 'version');
  const now = io.now();
  const summary = await createBundle(
    {
      hosts: release.hosts,
      keys: await Promise.all(keyFiles.map((file) => readSecretKeyFile(file))),
      cacheKeyFile,
      out,
      version: versionFlag === undefined ? defaultBundleVersion(now) : parsePositiveInt(versionFlag, 'version'),
      activation: activation.data,
      expiresInMs: parseDuration(values['expires-in'] ?? '30d'),
      system: optionalFlag(values, 'system') ?? localNixSystem(),
      now,
    },
    io.nix,
  );
  io.out(
    `bundle ${out}: version ${summary.version}, ${summary.hosts} host(s), ${summary.files} file(s), ${summary.bytes} bytes\n` +
      `hosts must trust the bundle's cache key: ${summary.cachePublicKey}\n`,
  );
  return EXIT.ok;
}

/** Release keys from --trusted-key (literal or file) with --threshold, plus optional cache keys for Nix. */
export async function trustFromFlags(values: Record<string, unknown>, fallback: { keys: readonly PublicKey[]; threshold: number } | null): Promise<BundleTrust> {
  const keyArgs = (values['trusted-key'] as string[] | undefined) ?? [];
  const cacheKeyArgs = (values['cache-key'] as string[] | undefined) ?? [];
  const thresholdFlag = optionalFlag(values, 'threshold');
  let keys: readonly PublicKey[];
  if (keyArgs.length > 0) keys = await Promise.all(keyArgs.map((key) => loadPublicKey(key)));
  else if (fallback !== null) keys = fallback.keys;
  else throw new UsageError('missing required option --trusted-key');
  const threshold = thresholdFlag !== undefined ? parsePositiveInt(thresholdFlag, 'threshold') : keyArgs.length > 0 ? 1 : (fallback?.threshold ?? 1);
  const cacheKeys = await Promise.all(cacheKeyArgs.map(async (key) => formatPublicKey(await loadPublicKey(key))));
  return { keys, threshold, cacheKeys };
}

/** Prints each problem on its own line (stderr) and a verdict; exit 3 when refused. */
export function reportProblems(dir: string, problems: readonly string[], io: { err: Out }): number {
  for (const problem of problems) io.err(`${problem}\n`);
  io.err(`bundle ${dir} refused: ${problems.length} problem(s)\n`);
  return EXIT.rejected;
}

export async function bundleVerifyCommand(args: readonly string[], io: BundleIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    'trusted-key': { type: 'string', multiple: true },
    threshold: { type: 'string' },
    'cache-key': { type: 'string', multiple: true },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(BUNDLE_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('bundle verify takes exactly one DIR');
  const dir = resolve(positionals[0] ?? '');
  const trust = await trustFromFlags(values, null);
  const inspection = await inspectBundle(dir, trust, io.now(), io.nix);
  if (inspection.index === null || inspection.problems.length > 0) return reportProblems(dir, inspection.problems, io);
  const { index } = inspection;
  io.out(
    `bundle ${dir}: good (version ${index.version}, made ${index.createdAt}, ${Object.keys(index.hosts).length} host(s), ` +
      `${Object.keys(index.files).length} file(s), ${inspection.paths.length} store path(s)${trust.cacheKeys.length > 0 ? ', checked by nix store verify' : ''})\n`,
  );
  return EXIT.ok;
}
