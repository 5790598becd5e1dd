// What every controller command gets from the composition root, and the state-directory and key flags they share.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EXIT, optionalFlag, parsePositiveInt, UsageError, type Output } from '../../shared/cli.js';
import { UserError } from '../../shared/errors.js';
import { duration, httpUrl, nixSystem, positiveInteger, publicKeyOrFile, secretKeyFile } from '../../shared/flag-checks.js';
import { checkStateDir, type StateDirAccess } from '../../shared/state-dir.js';
import { printable } from '../../shared/printable.js';
import { formatPublicKey, loadPublicKey, readSecretKeyFile, type PublicKey, type SecretKey } from '../../shared/keys.js';
import { ActivationSchema, type Activation } from '../../shared/manifest.js';
import type { BundleTrust } from '../bundle/make.js';
import type { BundleNix } from '../bundle/nix.js';
import { urlOfListen } from '../bundle/intake.js';
import { loadControllerConfig, loadReadToken, type ControllerConfig } from '../config.js';
import { createFileStore, type ControllerStore, type ReportRotation } from '../storage/store.js';

export interface ControllerIo extends Output {
  now(): Date;
  /** The caller's uid (null where there is none): root writing a service-owned directory hands files over. */
  readonly uid: number | null;
  /** Aborted on the first SIGINT or SIGTERM; made on first use, so other commands keep the default Ctrl-C. */
  stop(): AbortSignal;
  /** Whether stdout is a terminal (progress bars, redraws) and stdin one (questions to confirm). */
  readonly isTty: boolean;
  readonly stdinIsTty: boolean;
  /** Asks a yes/no question on the terminal (stderr, one line from stdin); true only for "y" or "yes". */
  confirm(question: string): Promise<boolean>;
  /** True under systemd (JOURNAL_STREAM set): log lines carry their syslog priority for journald. */
  readonly journald: boolean;
  /** Where serve's JSON log lines go. */
  readonly logDestination: NodeJS.WritableStream;
  nix(): BundleNix;
}

export const DEFAULT_STATE_DIR = '/var/lib/tsdeploy-controller';

const DEFAULT_ROTATION: ReportRotation = { maxLogBytes: 1024 * 1024, keepRotated: 3 };

export class NoStateDirError extends UserError {
  override name = 'NoStateDirError' as const;
  constructor(readonly stateDir: string) {
    super(`no controller state directory at ${stateDir}: start the controller once, or pass --state-dir DIR or --config FILE`);
  }
}

export const STATE_FLAGS = { 'state-dir': { type: 'string' }, config: { type: 'string' } } as const;
export const STATE_USAGE = '  --state-dir DIR   the controller state directory\n  --config FILE     take the state directory from this controller config\n';

/**
 * Opens an existing state directory. Run as root on a directory owned by the service's user,
 * new files are given to that user so the server can still replace them.
 */
async function openStore(stateDir: string, uid: number | null, rotation: ReportRotation, access: StateDirAccess): Promise<ControllerStore> {
  if ((await checkStateDir(stateDir, { access, create: false, setting: '--state-dir DIR (or stateDir in --config)' })) === 'missing') {
    throw new NoStateDirError(stateDir);
  }
  const info = await stat(stateDir);
  const owner = uid === 0 && info.uid !== 0 ? { uid: info.uid, gid: info.gid } : undefined;
  return createFileStore(stateDir, rotation, owner === undefined ? {} : { owner });
}

export interface Site {
  readonly config: ControllerConfig | null;
  readonly store: ControllerStore;
  /** Where a running server is reached: --controller, else the config's listen address. */
  readonly controllerUrl: string | null;
}

/**
 * The state directory from --state-dir, else the stateDir of --config, else (admin commands only,
 * `fallback`) the default. --config also gives the release keys, report rotation and listen address.
 */
export async function openSite(values: Record<string, unknown>, uid: number | null, fallback: string | null, access: StateDirAccess = 'write'): Promise<Site> {
  const stateDirFlag = optionalFlag(values, 'state-dir');
  const configFile = optionalFlag(values, 'config');
  const config = configFile === undefined || (stateDirFlag !== undefined && fallback !== null) ? null : await loadControllerConfig(configFile);
  const stateDir = stateDirFlag !== undefined ? resolve(stateDirFlag) : (config?.stateDir ?? fallback ?? undefined);
  if (stateDir === undefined) throw new UsageError('give --config FILE or --state-dir DIR');
  const store = await openStore(stateDir, uid, config?.reports ?? DEFAULT_ROTATION, access);
  const controllerUrl = optionalFlag(values, 'controller') ?? (config === null ? null : urlOfListen(config.listen));
  return { config: config === null ? null : { ...config, stateDir }, store, controllerUrl };
}

/** The admin commands' state directory: --state-dir, else --config's, else the default. */
export async function openStateDir(values: Record<string, unknown>, uid: number | null, access: StateDirAccess = 'write'): Promise<ControllerStore> {
  return (await openSite(values, uid, DEFAULT_STATE_DIR, access)).store;
}

function activationProblem(value: string): string | null {
  return ActivationSchema.safeParse(value).success ? null : 'must be one of switch, boot, test, dry-activate';
}

/** `--controller URL` of the commands that talk to a running controller. */
export const CONTROLLER_FLAG = { controller: { type: 'string', check: httpUrl } } as const;

/** `--read-token-file FILE`: the controller's readToken, for the commands that read its fleet and rollout views. */
export const READ_TOKEN_FLAG = { 'read-token-file': { type: 'string' } } as const;
export const READ_TOKEN_USAGE = '  --read-token-file FILE  the controller\'s readToken (needed when it has one)\n';

/** The token from --read-token-file, or undefined without the flag. */
export async function readTokenFromFlag(values: Record<string, unknown>): Promise<string | undefined> {
  const file = optionalFlag(values, 'read-token-file');
  return file === undefined ? undefined : loadReadToken(file);
}

/** The flags of every command that signs manifests with release keys. */
export const SIGNING_FLAGS = {
  key: { type: 'string', multiple: true, check: secretKeyFile },
  activation: { type: 'string', default: 'switch', check: activationProblem },
  'expires-in': { type: 'string', default: '7d', check: duration },
  system: { type: 'string', check: nixSystem },
  rollout: { type: 'string' },
  note: { type: 'string' },
} as const;

/** Every `--key SECRET_FILE` given (at least one). */
export async function secretKeysFrom(values: { readonly key?: readonly string[] | undefined }): Promise<SecretKey[]> {
  const keyFiles = values.key ?? [];
  if (keyFiles.length === 0) throw new UsageError('missing required option --key');
  return Promise.all(keyFiles.map((file) => readSecretKeyFile(file)));
}

export function activationFrom(values: { readonly activation?: string | undefined }): Activation {
  const activation = ActivationSchema.safeParse(values.activation);
  if (!activation.success) throw new UsageError('--activation must be one of switch, boot, test, dry-activate');
  return activation.data;
}

export const TRUST_FLAGS = {
  'trusted-key': { type: 'string', multiple: true, check: publicKeyOrFile },
  threshold: { type: 'string', check: positiveInteger },
  'cache-key': { type: 'string', multiple: true, check: publicKeyOrFile },
} as const;

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
export function reportProblems(dir: string, problems: readonly string[], io: Output): number {
  // Problems name files of the bundle, which its sender chose: escaped like any untrusted text.
  for (const problem of problems) io.err(`${printable(problem)}\n`);
  io.err(`bundle ${printable(dir)} refused: ${problems.length} problem(s)\n`);
  return EXIT.rejected;
}
