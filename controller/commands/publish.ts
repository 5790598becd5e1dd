// `publish`: sign one manifest per host locally (version = current + 1) and upload each to the controller.
import { defineCommand, EXIT, optionalFlag, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { errnoCode, errorMessage, UserError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/files.js';
import { readJsonFile } from '../../shared/json.js';
import { printable } from '../../shared/printable.js';
import type { SecretKey } from '../../shared/keys.js';
import type { Activation, Manifest } from '../../shared/manifest.js';
import { buildManifest, localNixSystem, signManifest } from '../../shared/sign-manifest.js';
import { HostNameSchema, StorePathSchema } from '../../shared/validate.js';
import { createControllerApi, errorOfBody, type ControllerApi } from '../http/client.js';
import { storedManifestInfo } from '../fleet/decide-publish.js';
import { activationFrom, secretKeysFrom, SIGNING_FLAGS, type ControllerIo } from './context.js';
import { DEFAULT_MAX_JUMP, PublishRecordSchema, versionRefusal } from './publish-guard.js';
import { loadRelease } from './release-file.js';
import { confirmPlan, gatherPlan } from '../release-plan/confirm.js';
import type { ReleasePlan } from '../release-plan/plan.js';
import { expiryWarning } from '../rollout/expiry.js';
import { loadPolicy } from './rollout-start.js';

type Out = (text: string) => void;

/** The publisher's own record of what it signed, beside the first key unless `--state` names a file. */
export async function openPublishRecord(
  path: string,
  given: boolean,
  warn: Out,
): Promise<{ lastSigned: (host: string) => number | null; signed: (host: string, version: number) => Promise<void> }> {
  const record = (await readJsonFile(path, PublishRecordSchema, (detail) => new UserError(`publish record ${path}: ${detail}`))) ?? { hosts: {} };
  let warned = false;
  return {
    lastSigned: (host) => record.hosts[host] ?? null,
    async signed(host, version) {
      record.hosts[host] = Math.max(version, record.hosts[host] ?? 0);
      try {
        await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, 0o600);
      } catch (error) {
        // Beside a key on read-only media the record cannot be kept; the upload stands, so say so once.
        if (given) throw new UserError(`cannot write the publish record ${path}: ${errnoCode(error) ?? errorMessage(error)}`);
        if (!warned) warn(`publish: cannot keep the record of signed versions at ${path} (${errnoCode(error) ?? errorMessage(error)}); pass --state FILE\n`);
        warned = true;
      }
    },
  };
}

export type PublishOutcome =
  | { readonly host: string; readonly result: 'published'; readonly from: number | null; readonly version: number; readonly storePath: string }
  /** Not signed: the version the controller's answer leads to is not one this publisher can justify. */
  | { readonly host: string; readonly result: 'declined'; readonly error: string }
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
  /** The last version this publisher signed for a host (its own record), or null. */
  readonly lastSigned: (host: string) => number | null;
  /** Versions the next one may be past `lastSigned` (`--max-jump`). */
  readonly maxJump: number;
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
  const version = (current?.version ?? 0) + 1;
  const refusal = versionRefusal(host, version, options.lastSigned(host), options.maxJump);
  if (refusal !== null) return { host, result: 'declined', error: refusal };
  const manifest = buildManifest({
    host,
    storePath,
    version,
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
    case 'declined':
      return `${outcome.host}: not signed: ${outcome.error}`;
  }
}

export const publishCommand = defineCommand({
  name: 'publish',
  summary: 'Sign version current+1 for each host and upload it.',
  usage:
    '  --controller URL    the controller\n  --key SECRET_FILE   a release key (repeat for a threshold)\n' +
    '  --host HOST --path STORE_PATH | --release FILE\n  --activation MODE   switch (default), boot, test or dry-activate\n' +
    '  --expires-in 7d\n  --system SYSTEM\n  --rollout ID\n  --note TEXT\n  --force             publish even when the path is already desired\n  --json\n' +
    '  --state FILE        the last version signed per host (default: beside the first key, KEY.versions.json)\n' +
    '  --max-jump N        how far past that the next version may be (default 1000)\n' +
    '  --plan --cache URL  first show each host\'s old -> new path, reboot and download size (from the cache\'s narinfos), and confirm\n' +
    '  --yes               confirm without asking (needed off a terminal)\n' +
    '  --policy FILE       the rollout policy this release goes out with: warns when --expires-in will not outlast it\n',
  flags: {
    ...SIGNING_FLAGS,
    controller: { type: 'string' },
    host: { type: 'string' },
    path: { type: 'string' },
    release: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    state: { type: 'string' },
    'max-jump': { type: 'string' },
    plan: { type: 'boolean' },
    cache: { type: 'string' },
    yes: { type: 'boolean' },
    policy: { type: 'string' },
  },
  async run({ values }, io: ControllerIo) {
    const controllerUrl = requireFlag(values, 'controller');
    if ((values.key ?? []).length === 0) throw new UsageError('missing required option --key');
    const activation = activationFrom(values);
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
    const keyFiles = values.key ?? [];
    const stateFlag = optionalFlag(values, 'state');
    const record = await openPublishRecord(stateFlag ?? `${keyFiles[0] ?? 'key'}.versions.json`, stateFlag !== undefined, io.err);
    const maxJumpFlag = optionalFlag(values, 'max-jump');
    const options: PublishOptions = {
      lastSigned: record.lastSigned,
      maxJump: maxJumpFlag === undefined ? DEFAULT_MAX_JUMP : parsePositiveInt(maxJumpFlag, 'max-jump'),
      keys: await secretKeysFrom(values),
      activation,
      expiresInMs: parseDuration(values['expires-in'] ?? '7d'),
      system: optionalFlag(values, 'system') ?? localNixSystem(),
      note: optionalFlag(values, 'note'),
      rollout: optionalFlag(values, 'rollout'),
      force: values.force === true,
      now: () => io.now(),
    };
    const policyFile = optionalFlag(values, 'policy');
    if (policyFile !== undefined) {
      const warning = expiryWarning(options.expiresInMs, targets.map(([host]) => host), await loadPolicy(policyFile));
      if (warning !== null) io.err(`${warning}\n`);
    }
    const api = createControllerApi(controllerUrl);
    const outcomes: PublishOutcome[] = [];
    let plan: ReleasePlan | null = null;
    try {
      if (values.plan === true) {
        plan = await gatherPlan(api, targets, requireFlag(values, 'cache'));
        if (!(await confirmPlan(io, plan, { yes: values.yes === true, json: values.json === true, what: 'publish' }))) {
          io.err('not confirmed: nothing published\n');
          return EXIT.failure;
        }
      }
      for (const [host, path] of targets) {
        const outcome = await publishHost(api, host, path, options);
        outcomes.push(outcome);
        if (outcome.result === 'published') await record.signed(host, outcome.version);
        const failed = outcome.result === 'refused' || outcome.result === 'declined';
        if (values.json !== true) (failed ? io.err : io.out)(`${printable(formatOutcome(outcome))}\n`);
      }
    } finally {
      await api.close();
    }
    if (values.json === true) io.out(`${JSON.stringify(plan === null ? { hosts: outcomes } : { plan, hosts: outcomes }, null, 2)}\n`);
    return outcomes.some((outcome) => outcome.result === 'refused' || outcome.result === 'declined') ? EXIT.rejected : EXIT.ok;
  },
});
