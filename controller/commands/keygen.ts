// `keygen`: an ed25519 key pair in Nix's format, for signing releases or a bundle's cache.
import { mkdir } from 'node:fs/promises';
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { keyName } from '../../shared/flag-checks.js';
import { formatPublicKey, generateKeyPair, writeKeyPair } from '../../shared/keys.js';
import type { ControllerIo } from './context.js';

export const keygenCommand = defineCommand({
  name: 'keygen',
  summary: 'Write DIR/NAME.secret (0600) and DIR/NAME.public (0644); print the public key.',
  usage: '  --name NAME       the key name (part of the key text)\n  --out-dir DIR     where to write the pair\n',
  flags: { name: { type: 'string', check: keyName }, 'out-dir': { type: 'string' } },
  async run({ values }, io: ControllerIo) {
    const pair = generateKeyPair(requireFlag(values, 'name'));
    const dir = requireFlag(values, 'out-dir');
    await mkdir(dir, { recursive: true });
    await writeKeyPair(dir, pair);
    io.out(`${formatPublicKey(pair.public)}\n`);
    return EXIT.ok;
  },
});
