// A consistent two-host bundle, as text, for the bundle index tests.
import { createHash } from 'node:crypto';
import { buildBundleIndex, type BundleFile, type BundleIndex } from '../../controller/bundle/index-file.js';
import { fileHashOf } from '../../controller/bundle/narinfo.js';
import { generateKeyPair } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';

export const NOW = new Date('2026-03-01T10:00:00Z');
export const RELEASE = generateKeyPair('release-1');
export const SECOND = generateKeyPair('release-2');
export const ROGUE = generateKeyPair('rogue-1');
export const H = (c: string) => c.repeat(32);
export const F = (c: string) => c.repeat(52);
export const SYS1 = `/nix/store/${H('a')}-nixos-system-web-1`;
export const SYS2 = `/nix/store/${H('b')}-nixos-system-web-2`;
export const sha = (text: string) => createHash('sha256').update(text).digest('hex');
export const file = (text: string): BundleFile => ({ size: Buffer.byteLength(text), sha256: sha(text) });

export function manifestFor(host: string, storePath: string, version: number, options: { key?: typeof RELEASE; at?: Date; manifestHost?: string } = {}): string {
  const manifest = buildManifest({
    host: options.manifestHost ?? host,
    storePath,
    version,
    activation: 'switch',
    expiresInMs: 86_400_000,
    system: 'x86_64-linux',
    now: options.at ?? NOW,
  });
  return signManifest(manifest, [(options.key ?? RELEASE).secret]);
}

export function narinfo(path: string, nar: string, narText: string, refs: readonly string[]): string {
  return [
    `StorePath: ${path}`,
    `URL: ${nar}`,
    'Compression: xz',
    `FileHash: ${fileHashOf(sha(narText))}`,
    `FileSize: ${Buffer.byteLength(narText)}`,
    `NarHash: sha256:${F('9')}`,
    'NarSize: 100',
    `References: ${refs.map((ref) => ref.slice('/nix/store/'.length)).join(' ')}`,
    'Sig: cache-1:c2ln',
    '',
  ].join('\n');
}

/** A two-host bundle's files, as text, exactly consistent. */
export function contents(): Map<string, string> {
  const nar1 = `nar/${F('1')}.nar.xz`;
  const nar2 = `nar/${F('2')}.nar.xz`;
  return new Map([
    ['cache/nix-cache-info', 'StoreDir: /nix/store\n'],
    [`cache/${nar1}`, 'nar of web-1'],
    [`cache/${nar2}`, 'nar of web-2'],
    [`cache/${H('a')}.narinfo`, narinfo(SYS1, nar1, 'nar of web-1', [SYS1, SYS2])],
    [`cache/${H('b')}.narinfo`, narinfo(SYS2, nar2, 'nar of web-2', [])],
    ['v1/hosts/web-1/manifest', manifestFor('web-1', SYS1, 7)],
    ['v1/hosts/web-2/manifest', manifestFor('web-2', SYS2, 7)],
  ]);
}

export function indexOf(files: ReadonlyMap<string, string>, version = 7): BundleIndex {
  return buildBundleIndex({
    version,
    now: NOW,
    hosts: { 'web-2': { version, storePath: SYS2 }, 'web-1': { version, storePath: SYS1 } },
    files: new Map([...files].map(([path, text]) => [path, file(text)])),
  });
}
