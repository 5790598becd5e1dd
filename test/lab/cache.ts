// The lab's signed binary cache: a key from our keygen, `nix store sign` + `nix copy --to file://`, served over HTTP from infra.
import { join } from 'node:path';
import { runCommand } from '../../shared/command.js';
import { pathExists } from '../../shared/files.js';
import { formatPublicKey, generateKeyPair, writeKeyPair } from '../../shared/keys.js';
import { type LabNode, type LabProcess, LabStartError } from './netns.js';

export interface CacheKey {
  /** "name:base64", as in trusted-public-keys. */
  readonly publicKey: string;
  readonly secretKeyFile: string;
}

/** Makes a signing key with the project's keygen (the same format `nix store sign` reads). */
export async function makeCacheKey(dir: string, name: string): Promise<CacheKey> {
  const pair = generateKeyPair(name);
  const { secretPath } = await writeKeyPair(dir, pair);
  return { publicKey: formatPublicKey(pair.public), secretKeyFile: secretPath };
}

const NIX_COMMAND = ['--extra-experimental-features', 'nix-command'] as const;

/** zstd: real compression the hosts must undo, at a fraction of xz's time for large closures. */
export function fileCacheUrl(dir: string): string {
  return `file://${dir}?compression=zstd`;
}

/** argv that signs a closure in the machine's store with `key`. */
export function signArgs(paths: readonly string[], key: CacheKey): [string, ...string[]] {
  return ['nix', ...NIX_COMMAND, 'store', 'sign', '--key-file', key.secretKeyFile, '--recursive', ...paths];
}

/** argv that copies a closure into a file binary cache. */
export function copyArgs(paths: readonly string[], cacheDir: string): [string, ...string[]] {
  return ['nix', ...NIX_COMMAND, 'copy', '--to', fileCacheUrl(cacheDir), ...paths];
}

/** Signs the closure of `paths` with `key` and copies it (with every signature it has) into `cacheDir`. */
export async function publishToCache(paths: readonly string[], key: CacheKey, cacheDir: string): Promise<void> {
  await runCommand({ argv: signArgs(paths, key), timeoutMs: 600_000 });
  await runCommand({ argv: copyArgs(paths, cacheDir), timeoutMs: 600_000 });
}

/** Only what a binary cache holds; anything else (including any "..") is a 404. */
const CACHE_PATH_RE =
  /^\/(nix-cache-info|[0-9a-z]{32}\.narinfo|nar\/[0-9a-z]+\.nar(\.(xz|zst|bz2|br|gz))?|log\/[0-9a-z]{32}-[0-9A-Za-z+._?=-]+)$/;

export function isCachePath(urlPath: string): boolean {
  return CACHE_PATH_RE.test(urlPath);
}

export function cacheContentType(urlPath: string): string {
  if (urlPath === '/nix-cache-info') return 'text/x-nix-cache-info';
  if (urlPath.endsWith('.narinfo')) return 'text/x-nix-narinfo';
  if (urlPath.startsWith('/nar/')) return 'application/x-nix-nar';
  return 'text/plain';
}

export const CACHE_SERVER_SCRIPT = new URL('./static-server.ts', import.meta.url).pathname;

/** The URL of tsx's loader, so lab programs run TypeScript whatever their working directory. */
export const TSX_IMPORT = import.meta.resolve('tsx');

/** Starts the static cache server inside `node` and waits until it listens. */
export async function startCacheServer(
  node: LabNode,
  cacheDir: string,
  port: number,
  runDir: string,
  narBytesPerSecond = 0,
): Promise<LabProcess> {
  const readyFile = join(runDir, 'cache-server.ready');
  const argv = [process.execPath, '--import', TSX_IMPORT, CACHE_SERVER_SCRIPT, cacheDir, String(port), readyFile, String(narBytesPerSecond)];
  const server = node.spawn(argv, {
    logFile: join(runDir, 'cache-server.log'),
  });
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  for (let attempt = 0; attempt < 3000; attempt += 1) {
    if (await pathExists(readyFile)) return server;
    if (exited) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  server.kill('SIGKILL');
  throw new LabStartError(`the lab cache server did not start; see ${join(runDir, 'cache-server.log')}`);
}
