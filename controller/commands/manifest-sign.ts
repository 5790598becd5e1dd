// `manifest sign`: print a signed manifest envelope, made offline with the release keys.
import { defineCommand, EXIT, optionalFlag, parsePositiveInt, requireFlag } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { hostName, positiveInteger, storePath } from '../../shared/flag-checks.js';
import { buildManifest, localNixSystem, signManifest } from '../../shared/sign-manifest.js';
import { activationFrom, secretKeysFrom, SIGNING_FLAGS, type ControllerIo } from './context.js';

export const manifestSignCommand = defineCommand({
  name: 'manifest sign',
  summary: 'Print a signed manifest envelope.',
  usage:
    '  --key SECRET_FILE   a release key (repeat for a threshold)\n  --host HOST\n  --path STORE_PATH\n  --version N\n' +
    '  --activation MODE   switch (default), boot, test or dry-activate\n  --expires-in 7d\n  --system SYSTEM\n  --rollout ID\n  --note TEXT\n',
  flags: {
    ...SIGNING_FLAGS,
    host: { type: 'string', check: hostName },
    path: { type: 'string', check: storePath },
    version: { type: 'string', check: positiveInteger },
  },
  async run({ values }, io: ControllerIo) {
    const keys = await secretKeysFrom(values);
    const activation = activationFrom(values);
    const manifest = buildManifest({
      host: requireFlag(values, 'host'),
      storePath: requireFlag(values, 'path'),
      version: parsePositiveInt(requireFlag(values, 'version'), 'version'),
      activation,
      expiresInMs: parseDuration(values['expires-in'] ?? '7d'),
      system: optionalFlag(values, 'system') ?? localNixSystem(),
      now: io.now(),
      rollout: optionalFlag(values, 'rollout'),
      note: optionalFlag(values, 'note'),
    });
    io.out(signManifest(manifest, keys));
    return EXIT.ok;
  },
});
