// Nix effects of bundles (sign, copy into a file cache, verify it), with their argv built by pure, tested functions.
import { CommandExitError, runCommand } from '../../shared/command.js';
import { UserError } from '../../shared/errors.js';

const NIX_COMMAND = ['--extra-experimental-features', 'nix-command'] as const;

/** A long closure over slow media can take a while; a hung Nix must not hold the operator forever. */
const NIX_TIMEOUT_MS = 3_600_000;

export class BundleDirError extends UserError {
  override name = 'BundleDirError' as const;
}

/** `file://DIR` for Nix; a "?" or "#" in DIR would be read as store parameters, so it is refused. */
export function fileStoreUrl(dir: string): string {
  if (!dir.startsWith('/') || /[?#]/.test(dir)) throw new BundleDirError(`bundle cache directory must be an absolute path without "?" or "#": ${dir}`);
  return `file://${dir}`;
}

/** Adds the cache key's signature to every path in the closures, in the machine's store. */
export function signArgs(keyFile: string, paths: readonly string[]): [string, ...string[]] {
  return ['nix', ...NIX_COMMAND, 'store', 'sign', '--key-file', keyFile, '--recursive', ...paths];
}

/** Copies the closures (with their signatures) into a file binary cache. */
export function copyArgs(cacheDir: string, paths: readonly string[]): [string, ...string[]] {
  return ['nix', ...NIX_COMMAND, 'copy', '--to', fileStoreUrl(cacheDir), ...paths];
}

/** Has Nix itself check every NAR's hash and that each path carries a signature from one of `keys`. */
export function verifyArgs(cacheDir: string, keys: readonly string[], paths: readonly string[]): [string, ...string[]] {
  return [
    'nix', ...NIX_COMMAND, 'store', 'verify',
    '--store', fileStoreUrl(cacheDir),
    '--trusted-public-keys', keys.join(' '),
    '--recursive', ...paths,
  ];
}

/** The lines of `nix store verify` output that say what is wrong (not its "checking …" progress). */
export function verifyProblems(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('checking '))
    .map((line) => `nix store verify: ${line}`);
}

export interface BundleNix {
  /** Signs the closures of `paths` with the cache key and copies them into `cacheDir`. */
  signAndCopy(keyFile: string, cacheDir: string, paths: readonly string[]): Promise<void>;
  /** Runs real Nix over the cache; one line per problem, empty when Nix is content. */
  verify(cacheDir: string, keys: readonly string[], paths: readonly string[]): Promise<string[]>;
}

export function createBundleNix(): BundleNix {
  return {
    async signAndCopy(keyFile, cacheDir, paths) {
      await runCommand({ argv: signArgs(keyFile, paths), timeoutMs: NIX_TIMEOUT_MS });
      await runCommand({ argv: copyArgs(cacheDir, paths), timeoutMs: NIX_TIMEOUT_MS });
    },
    async verify(cacheDir, keys, paths) {
      try {
        await runCommand({ argv: verifyArgs(cacheDir, keys, paths), timeoutMs: NIX_TIMEOUT_MS });
        return [];
      } catch (error) {
        if (!(error instanceof CommandExitError)) throw error;
        const problems = verifyProblems(error.stderr);
        return problems.length > 0 ? problems : [`nix store verify: exited with code ${error.code ?? error.signal ?? '?'}`];
      }
    },
  };
}
