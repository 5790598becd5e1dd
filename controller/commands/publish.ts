// `publish`: sign one manifest per host locally (version = current + 1) and upload each to the controller.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { EXIT, optionalFlag, parseFlags, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { formatZodIssues } from '../../shared/dsse.js';
import { errorMessage, UserError } from '../../shared/errors.js';
import { readSecretKeyFile, type SecretKey } from '../../shared/keys.js';
import { ActivationSchema, type Activation, type Manifest } from '../../shared/manifest.js';
import { buildManifest, localNixSystem, signManifest } from '../../shared/sign-manifest.js';
import { HostNameSchema, StorePathSchema } from '../../shared/validate.js';
import { createControllerApi, errorOfBody, type ControllerApi } from '../client.js';
import { storedManifestInfo } from '../decide.js';

type Out = (text: string) => void;

/** What a CI job writes: the store path each host should run. */
export const ReleaseSchema = z
  .object({
    hosts: z.record(HostNameSchema, StorePathSchema).refine((hosts) => Object.keys(hosts).length > 0, { message: 'lists no hosts' }),
  })
  .strict();
export type Release = z.infer<typeof ReleaseSchema>;

export class ReleaseFileError extends UserError {
  override name = 'ReleaseFileError' as const;
  constructor(readonly path: string, readonly detail: string) {
    super(`release file ${path}: ${detail}`);
  }
}

export async function loadRelease(path: string): Promise<Release> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ReleaseFileError(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ReleaseFileError(path, 'not valid JSON');
  }
  const parsed = ReleaseSchema.safeParse(json);
  if (!parsed.success) throw new ReleaseFileError(path, formatZodIssues(parsed.error));
  return parsed.data;
}

export type PublishOutcome =
  | { readonly host: string; readonly result: 'published'; readonly from: number | null; readonly version: number; readonly storePath: string }
  | { readonly host: string; readonly result: 'unchanged'; readonly version: number; readonly storePath: string }
  | { readonly host: string; readonly result: 'refused'; readonly status: number; readonly error: string };

export interface PublishOptions {
  readonly keys: readonly SecretKey[];
  readonly activation: Activation;
  readonly expiresInMs: number;
  readonly system: string;
  readonly note: string | undefined;
  readonly rollout: string | undefined;
  /** Publish a new version even when the same path and activation are already desired. */
  readonly force: boolean;
  readonly now: () => Date;
}

/**
 * The current manifest decides the next version. Nothing is uploaded when the host already has
 * an unexpired manifest for the same path and activation ("unchanged").
 */
export async function publishHost(api: ControllerApi, host: string, storePath: string, options: PublishOptions): Promise<PublishOutcome> {
  const fetched = await api.getManifest(host);
  let current: Manifest | null = null;
  if (fetched.kind === 'found') {
    try {
      current = storedManifestInfo(fetched.bytes).manifest;
    } catch (error) {
      throw new UserError(`the controller serves an unreadable manifest for ${host}: ${errorMessage(error)}`);
    }
  }
  const now = options.now();
  if (
    current !== null &&
    !options.force &&
    current.storePath === storePath &&
    current.activation === options.activation &&
    Date.parse(current.expiresAt) > now.getTime()
  ) {
    return { host, result: 'unchanged', version: current.version, storePath };
  }
  const manifest = buildManifest({
    host,
    storePath,
    version: (current?.version ?? 0) + 1,
    activation: options.activation,
    expiresInMs: options.expiresInMs,
    system: options.system,
    now,
    note: options.note,
    rollout: options.rollout,
  });
  const answer = await api.postManifest(signManifest(manifest, options.keys));
  if (answer.status === 201 || answer.status === 200) {
    return { host, result: 'published', from: current?.version ?? null, version: manifest.version, storePath };
  }
  return { host, result: 'refused', status: answer.status, error: errorOfBody(answer) };
}

export function formatOutcome(outcome: PublishOutcome): string {
  switch (outcome.result) {
    case 'published':
      return `${outcome.host}: ${outcome.from ?? 'none'} -> ${outcome.version} ${outcome.storePath}`;
    case 'unchanged':
      return `${outcome.host}: unchanged (version ${outcome.version} already has ${outcome.storePath})`;
    case 'refused':
      return `${outcome.host}: refused (HTTP ${outcome.status}): ${outcome.error}`;
  }
}

export const PUBLISH_USAGE =
  'Usage: tsdeploy-controller publish --controller URL --key SECRET_FILE [--key ...]\n' +
  '         (--host HOST --path STORE_PATH | --release FILE)\n' +
  '         [--activation switch|boot|test|dry-activate] [--expires-in 7d] [--system SYSTEM]\n' +
  '         [--rollout ID] [--note TEXT] [--force] [--json]\n';

export async function publishCommand(args: readonly string[], io: { out: Out; err: Out; now: () => Date }): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    controller: { type: 'string' },
    key: { type: 'string', multiple: true },
    host: { type: 'string' },
    path: { type: 'string' },
    release: { type: 'string' },
    activation: { type: 'string', default: 'switch' },
    'expires-in': { type: 'string', default: '7d' },
    system: { type: 'string' },
    rollout: { type: 'string' },
    note: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(PUBLISH_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`);
  const controllerUrl = requireFlag(values, 'controller');
  const keyFiles = values.key ?? [];
  if (keyFiles.length === 0) throw new UsageError('missing required option --key');
  const activation = ActivationSchema.safeParse(values.activation);
  if (!activation.success) throw new UsageError('--activation must be one of switch, boot, test, dry-activate');
  const releaseFile = optionalFlag(values, 'release');
  const hostFlag = optionalFlag(values, 'host');
  const pathFlag = optionalFlag(values, 'path');
  let targets: Array<[string, string]>;
  if (releaseFile !== undefined) {
    if (hostFlag !== undefined || pathFlag !== undefined) throw new UsageError('give either --release or --host with --path, not both');
    targets = Object.entries((await loadRelease(releaseFile)).hosts);
  } else {
    const host = requireFlag(values, 'host');
    const path = requireFlag(values, 'path');
    if (!HostNameSchema.safeParse(host).success) throw new UsageError(`--host is not a host name: "${host}"`);
    if (!StorePathSchema.safeParse(path).success) throw new UsageError(`--path is not a Nix store path: "${path}"`);
    targets = [[host, path]];
  }
  const options: PublishOptions = {
    keys: await Promise.all(keyFiles.map((file) => readSecretKeyFile(file))),
    activation: activation.data,
    expiresInMs: parseDuration(values['expires-in'] ?? '7d'),
    system: optionalFlag(values, 'system') ?? localNixSystem(),
    note: optionalFlag(values, 'note'),
    rollout: optionalFlag(values, 'rollout'),
    force: values.force === true,
    now: io.now,
  };
  const api = createControllerApi(controllerUrl);
  const outcomes: PublishOutcome[] = [];
  try {
    for (const [host, path] of targets) {
      const outcome = await publishHost(api, host, path, options);
      outcomes.push(outcome);
      if (values.json !== true) (outcome.result === 'refused' ? io.err : io.out)(`${formatOutcome(outcome)}\n`);
    }
  } finally {
    await api.close();
  }
  if (values.json === true) io.out(`${JSON.stringify({ hosts: outcomes }, null, 2)}\n`);
  return outcomes.some((outcome) => outcome.result === 'refused') ? EXIT.rejected : EXIT.ok;
}
