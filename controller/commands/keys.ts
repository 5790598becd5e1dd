// keygen and `manifest sign`: the operator's offline signing commands.
import { mkdir } from 'node:fs/promises';
import { parseFlags, parsePositiveInt, requireFlag, optionalFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { formatPublicKey, generateKeyPair, readSecretKeyFile, writeKeyPair } from '../../shared/keys.js';
import { ActivationSchema } from '../../shared/manifest.js';
import { buildManifest, localNixSystem, signManifest } from '../../shared/sign-manifest.js';

type Out = (text: string) => void;

export async function keygenCommand(args: readonly string[], out: Out): Promise<number> {
  const { values } = parseFlags(args, {
    name: { type: 'string' },
    'out-dir': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    out('Usage: tsdeploy-controller keygen --name NAME --out-dir DIR\n  writes DIR/NAME.secret (0600) and DIR/NAME.public (0644), prints the public key\n');
    return 0;
  }
  const name = requireFlag(values, 'name');
  const dir = requireFlag(values, 'out-dir');
  const pair = generateKeyPair(name);
  await mkdir(dir, { recursive: true });
  await writeKeyPair(dir, pair);
  out(`${formatPublicKey(pair.public)}\n`);
  return 0;
}

export async function manifestSignCommand(args: readonly string[], out: Out, now: () => Date): Promise<number> {
  const { values } = parseFlags(args, {
    key: { type: 'string', multiple: true },
    host: { type: 'string' },
    path: { type: 'string' },
    version: { type: 'string' },
    activation: { type: 'string', default: 'switch' },
    'expires-in': { type: 'string', default: '7d' },
    system: { type: 'string' },
    rollout: { type: 'string' },
    note: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    out(
      'Usage: tsdeploy-controller manifest sign --key SECRET_FILE [--key ...] --host HOST --path STORE_PATH --version N\n' +
        '         [--activation switch|boot|test|dry-activate] [--expires-in 7d] [--system SYSTEM] [--rollout ID] [--note TEXT]\n',
    );
    return 0;
  }
  const keyFiles = values.key ?? [];
  if (keyFiles.length === 0) throw new UsageError('missing required option --key');
  const activation = ActivationSchema.safeParse(values.activation);
  if (!activation.success) throw new UsageError(`--activation must be one of switch, boot, test, dry-activate`);
  const keys = await Promise.all(keyFiles.map((file) => readSecretKeyFile(file)));
  const manifest = buildManifest({
    host: requireFlag(values, 'host'),
    storePath: requireFlag(values, 'path'),
    version: parsePositiveInt(requireFlag(values, 'version'), 'version'),
    activation: activation.data,
    expiresInMs: parseDuration(values['expires-in'] ?? '7d'),
    system: optionalFlag(values, 'system') ?? localNixSystem(),
    now: now(),
    rollout: optionalFlag(values, 'rollout'),
    note: optionalFlag(values, 'note'),
  });
  out(signManifest(manifest, keys));
  return 0;
}
