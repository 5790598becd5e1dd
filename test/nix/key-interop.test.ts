// Our keys and Nix's keys are the same thing: proven with the real `nix` binary in both directions.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { acceptManifest } from '../../shared/accept.js';
import { runCommand } from '../../shared/command.js';
import { formatPublicKey, generateKeyPair, parsePublicKey, readSecretKeyFile, writeKeyPair } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';

const NIX = ['nix', '--extra-experimental-features', 'nix-command'] as const;

/** An input-addressed path built by Nix (a path added with nix-store --add is content-addressed and needs no signature). */
async function freshStorePath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-interop-'));
  const expr = join(dir, 'drv.nix');
  const marker = `${process.pid}-${Date.now()}-${Math.random()}`;
  await writeFile(
    expr,
    `derivation { name = "tsdeploy-interop"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ${marker} > $out" ]; }\n`,
  );
  const { stdout } = await runCommand({ argv: ['nix-build', '--no-out-link', expr] });
  return stdout.trim();
}

async function nixVerify(path: string, publicKey: string): Promise<boolean> {
  try {
    await runCommand({ argv: [...NIX, 'store', 'verify', '--sigs-needed', '1', '--trusted-public-keys', publicKey, path] });
    return true;
  } catch {
    return false;
  }
}

describe('Nix key interoperability (real nix binary)', () => {
  it('a secret key from our keygen signs a store path that nix store verify accepts with our public key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-interop-'));
    const pair = generateKeyPair('tsdeploy-interop-1');
    const { secretPath } = await writeKeyPair(dir, pair);
    const path = await freshStorePath();
    assert.equal(await nixVerify(path, formatPublicKey(pair.public)), false, 'unsigned path must not verify');
    await runCommand({ argv: [...NIX, 'store', 'sign', '--key-file', secretPath, path] });
    assert.equal(await nixVerify(path, formatPublicKey(pair.public)), true);
    assert.equal(await nixVerify(path, formatPublicKey(generateKeyPair('other').public)), false);
  });

  it('a key pair made by nix-store --generate-binary-cache-key signs manifests that we verify', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-interop-'));
    const secretFile = join(dir, 'nix.secret');
    const publicFile = join(dir, 'nix.public');
    await runCommand({ argv: ['nix-store', '--generate-binary-cache-key', 'nix-made-1', secretFile, publicFile] });
    await chmod(secretFile, 0o600);
    const secret = await readSecretKeyFile(secretFile);
    const publicKey = parsePublicKey(await readFile(publicFile, 'utf8'));
    assert.equal(secret.name, 'nix-made-1');
    const now = new Date();
    const manifest = buildManifest({
      host: 'web-1',
      storePath: '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1',
      version: 1,
      activation: 'switch',
      expiresInMs: 3_600_000,
      system: 'x86_64-linux',
      now,
    });
    const bytes = Buffer.from(signManifest(manifest, [secret]));
    const result = acceptManifest({ bytes, trustedKeys: [publicKey], threshold: 1, host: 'web-1', last: null, now });
    assert.equal(result.kind, 'accepted');
    assert.deepEqual(result.signers, ['nix-made-1']);
  });

  it('a store path signed with a key from nix-store --generate-binary-cache-key verifies with the public key as we parse it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-interop-'));
    const secretFile = join(dir, 'nix.secret');
    const publicFile = join(dir, 'nix.public');
    await runCommand({ argv: ['nix-store', '--generate-binary-cache-key', 'nix-made-2', secretFile, publicFile] });
    const path = await freshStorePath();
    await runCommand({ argv: [...NIX, 'store', 'sign', '--key-file', secretFile, path] });
    const reformatted = formatPublicKey(parsePublicKey(await readFile(publicFile, 'utf8')));
    assert.equal(await nixVerify(path, reformatted), true);
  });
});
