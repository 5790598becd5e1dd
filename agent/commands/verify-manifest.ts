// `verify-manifest`: runs the agent's acceptance function on a file, for operators and CI.
import { readFile } from 'node:fs/promises';
import { EXIT, optionalFlag, parseFlags, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { acceptManifest, isRejectionError } from '../../shared/accept.js';
import { loadPublicKey } from '../../shared/keys.js';

type Out = (text: string) => void;

export const VERIFY_MANIFEST_USAGE =
  'Usage: tsdeploy-agent verify-manifest --trusted-key KEY_OR_FILE [--trusted-key ...] [--threshold K]\n' +
  '         --host HOST [--last-version N] [--last-digest SHA256] FILE|-\n';

export async function verifyManifestCommand(
  args: readonly string[],
  io: { out: Out; err: Out; stdin: () => Promise<Buffer> },
  now: () => Date,
): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    'trusted-key': { type: 'string', multiple: true },
    threshold: { type: 'string', default: '1' },
    host: { type: 'string' },
    'last-version': { type: 'string' },
    'last-digest': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(VERIFY_MANIFEST_USAGE);
    return EXIT.ok;
  }
  const keySpecs = values['trusted-key'] ?? [];
  if (keySpecs.length === 0) throw new UsageError('missing required option --trusted-key');
  if (positionals.length !== 1) throw new UsageError('expected exactly one manifest FILE (or - for standard input)');
  const file = positionals[0] ?? '-';
  const host = requireFlag(values, 'host');
  const threshold = parsePositiveInt(values.threshold ?? '1', 'threshold');
  const lastVersionText = optionalFlag(values, 'last-version');
  const trustedKeys = await Promise.all(keySpecs.map((spec) => loadPublicKey(spec)));
  let bytes: Buffer;
  try {
    bytes = file === '-' ? await io.stdin() : await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const result = acceptManifest({
      bytes,
      trustedKeys,
      threshold,
      host,
      last:
        lastVersionText === undefined
          ? null
          : { version: parsePositiveInt(lastVersionText, 'last-version'), digest: optionalFlag(values, 'last-digest') ?? null },
      now: now(),
    });
    if (result.kind === 'unchanged') io.err(`unchanged: version ${result.manifest.version} is the one last accepted\n`);
    io.out(`${JSON.stringify(result.manifest, null, 2)}\n`);
    return EXIT.ok;
  } catch (error) {
    if (isRejectionError(error)) {
      io.err(`rejected: ${error.message}\n`);
      return EXIT.rejected;
    }
    throw error;
  }
}
