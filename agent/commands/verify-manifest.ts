// `verify-manifest`: runs the agent's acceptance function on a file, for operators and CI.
import { readFile } from 'node:fs/promises';
import { defineCommand, EXIT, optionalFlag, parsePositiveInt, requireFlag, UsageError } from '../../shared/cli.js';
import { acceptManifest, isRejectionError } from '../../shared/accept.js';
import { EnvironmentError, errnoCode, exitCodeFor } from '../../shared/errors.js';
import { hostName, normalSha256, positiveInteger, publicKeyOrFile, sha256Hex } from '../../shared/flag-checks.js';
import { loadPublicKey } from '../../shared/keys.js';
import { printable, printableJson } from '../../shared/printable.js';
import type { AgentIo } from '../cli-context.js';

export const verifyManifestCommand = defineCommand({
  name: 'verify-manifest',
  summary: 'Check a signed manifest as the agent would: prints the payload and exits 0, or says why not and exits 3.',
  usage:
    '  --trusted-key KEY_OR_FILE   a trusted release key, literal "name:base64" or a file (repeatable)\n' +
    '  --threshold K               distinct trusted signatures needed (default 1)\n' +
    '  --host HOST                 the host this manifest must name\n' +
    '  --last-version N            the version last accepted (a lower one is a rollback)\n' +
    '  --last-digest SHA256        with --last-version: the payload digest last accepted (lastAccepted.digest of\n' +
    '                              tsdeploy-agent status --json); the same version with another digest is a conflict (exit 3)\n',
  flags: {
    'trusted-key': { type: 'string', multiple: true, check: publicKeyOrFile },
    threshold: { type: 'string', default: '1', check: positiveInteger },
    host: { type: 'string', check: hostName },
    'last-version': { type: 'string', check: positiveInteger },
    'last-digest': { type: 'string', check: sha256Hex },
  },
  positionals: { min: 1, max: 1, names: 'FILE|-' },
  async run({ values, positionals }, io: AgentIo) {
    const keySpecs = values['trusted-key'] ?? [];
    if (keySpecs.length === 0) throw new UsageError('missing required option --trusted-key');
    const file = positionals[0] ?? '-';
    const host = requireFlag(values, 'host');
    const threshold = parsePositiveInt(values.threshold ?? '1', 'threshold');
    const lastVersionText = optionalFlag(values, 'last-version');
    const lastDigestText = optionalFlag(values, 'last-digest');
    if (lastDigestText !== undefined && lastVersionText === undefined) {
      throw new UsageError('--last-digest needs --last-version: it is the digest of the version last accepted');
    }
    const trustedKeys = await Promise.all(keySpecs.map((spec) => loadPublicKey(spec)));
    let bytes: Buffer;
    try {
      bytes = file === '-' ? await io.stdin() : await readFile(file);
    } catch (error) {
      throw new EnvironmentError(`cannot read ${file}: ${errnoCode(error) ?? String(error)}`);
    }
    const last =
      lastVersionText === undefined
        ? null
        : { version: parsePositiveInt(lastVersionText, 'last-version'), digest: lastDigestText === undefined ? null : normalSha256(lastDigestText) };
    try {
      const result = acceptManifest({ bytes, trustedKeys, threshold, host, last, now: io.now() });
      const { version } = result.manifest;
      if (result.kind === 'accepted') io.err(`accepted: version ${version}, payload sha256 ${result.digest}\n`);
      else if (last !== null && last.digest !== null) io.err(`unchanged: version ${version} with the same content as last accepted (payload sha256 ${result.digest})\n`);
      else {
        // Without the digest the same version cannot be told from a conflict: say so rather than claim "unchanged".
        io.err(
          `version ${version} is the version last accepted; its content was not compared: give --last-digest ` +
            `(lastAccepted.digest of tsdeploy-agent status --json) to tell "no change" from a conflict\n`,
        );
      }
      io.out(`${printableJson(result.manifest)}\n`);
      return EXIT.ok;
    } catch (error) {
      if (!isRejectionError(error)) throw error;
      io.err(`rejected: ${printable(error.message)}\n`);
      return exitCodeFor(error);
    }
  },
});
