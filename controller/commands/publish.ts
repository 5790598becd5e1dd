// `publish`: sign one manifest per host locally (version = current + 1) and upload each to the controller.
import { defineCommand, EXIT, optionalFlag, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { printable, printableJson } from '../../shared/printable.js';
import { localNixSystem } from '../../shared/sign-manifest.js';
import { HostNameSchema, StorePathSchema } from '../../shared/validate.js';
import { createControllerApi } from '../http/client.js';
import { activationFrom, READ_TOKEN_FLAG, READ_TOKEN_USAGE, readTokenFromFlag, secretKeysFrom, SIGNING_FLAGS, type ControllerIo } from './context.js';
import { DEFAULT_MAX_JUMP } from './publish-guard.js';
import { loadRelease } from './release-file.js';
import { mapBounded } from '../../shared/map-bounded.js';
import { createKeyedMutex } from '../storage/mutex.js';
import { confirmPlan, gatherPlan } from '../release-plan/confirm.js';
import type { ReleasePlan } from '../release-plan/plan.js';
import { expiryWarning } from '../rollout/expiry.js';
import { loadPolicy } from './policy-file.js';
import { publishNotes } from './publish-notes.js';
import { missingFromCache } from '../release-plan/cache-check.js';
import { openPublishRecord, publishHost, formatOutcome, type PublishOptions, type PublishOutcome } from './publish-host.js';

/** Uploads in flight at once for `--release` (each over its own connection at most). */
const DEFAULT_PARALLEL = 16;

export const publishCommand = defineCommand({
  name: 'publish',
  summary: 'Sign version current+1 for each host and upload it.',
  usage:
    '  --controller URL    the controller\n  --key SECRET_FILE   a release key (repeat for a threshold)\n' +
    '  --host HOST --path STORE_PATH | --release FILE\n  --activation MODE   switch (default), boot, test or dry-activate\n' +
    '  --expires-in 7d\n  --system SYSTEM\n  --rollout ID\n  --note TEXT\n  --force             publish even when the path is already desired\n  --json\n' +
    '  --state FILE        the last version signed per host (default: beside the first key, KEY.versions.json)\n' +
    '  --max-jump N        how far past that the next version may be (default 1000)\n' +
    '  --parallel N        hosts uploaded at a time (default 16), each its own signed manifest\n' +
    '  --plan --cache URL  first show each host\'s old -> new path, reboot and download size (from the cache\'s narinfos), and confirm\n' +
    '  --yes               confirm without asking (needed off a terminal)\n' +
    '  --policy FILE       the rollout policy this release goes out with: warns when --expires-in will not outlast it\n' +
    READ_TOKEN_USAGE,
  flags: {
    ...SIGNING_FLAGS,
    controller: { type: 'string' },
    ...READ_TOKEN_FLAG,
    host: { type: 'string' },
    path: { type: 'string' },
    release: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    state: { type: 'string' },
    'max-jump': { type: 'string' },
    parallel: { type: 'string' },
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
    const parallelFlag = optionalFlag(values, 'parallel');
    const parallel = parallelFlag === undefined ? DEFAULT_PARALLEL : parsePositiveInt(parallelFlag, 'parallel');
    const policyFile = optionalFlag(values, 'policy');
    if (policyFile !== undefined) {
      const warning = expiryWarning(options.expiresInMs, targets.map(([host]) => host), await loadPolicy(policyFile));
      if (warning !== null) io.err(`${warning}\n`);
    }
    const api = createControllerApi(controllerUrl, { readToken: await readTokenFromFlag(values) });
    // The record is one file: its writes go one at a time, so a later one never lands before an earlier one.
    const recordWrites = createKeyedMutex();
    let outcomes: PublishOutcome[];
    let plan: ReleasePlan | null = null;
    let notesFor: (done: readonly PublishOutcome[]) => string[] = () => [];
    try {
      if (values.plan === true) {
        plan = await gatherPlan(api, targets, requireFlag(values, 'cache'));
        if (!(await confirmPlan(io, plan, { yes: values.yes === true, json: values.json === true, what: 'publish' }))) {
          io.err('not confirmed: nothing published\n');
          return EXIT.failure;
        }
      }
      // Read before publishing, so a note says what the hosts had done, not what this publish changed.
      // A controller that cannot answer it will refuse the publish itself, with its own message.
      const status = await api.getStatus().catch(() => null);
      const cacheUrl = optionalFlag(values, 'cache');
      const cache = cacheUrl === undefined || plan !== null ? null : { url: cacheUrl, missing: await missingFromCache(cacheUrl, targets.map(([, path]) => path)) };
      notesFor = (done) => publishNotes(done, status, cache);
      outcomes = await mapBounded(targets, parallel, async ([host, path]) => {
        const outcome = await publishHost(api, host, path, options);
        if (outcome.result === 'published') await recordWrites.run('record', () => record.signed(host, outcome.version));
        return outcome;
      });
    } finally {
      await api.close();
    }
    // In the release file's order, whatever order the uploads finished in: scripts and diffs see stable output.
    for (const outcome of values.json === true ? [] : outcomes) {
      const failed = outcome.result === 'refused' || outcome.result === 'declined';
      (failed ? io.err : io.out)(`${printable(formatOutcome(outcome))}\n`);
    }
    for (const note of notesFor(outcomes)) io.err(`${printable(note)}\n`);
    if (values.json === true) io.out(`${printableJson(plan === null ? { hosts: outcomes } : { plan, hosts: outcomes })}\n`);
    return outcomes.some((outcome) => outcome.result === 'refused' || outcome.result === 'declined') ? EXIT.rejected : EXIT.ok;
  },
});
