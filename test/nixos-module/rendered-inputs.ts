// The files the lab's agent unit was rendered from, with their sha256, so a check without Nix sees when the rendering is stale.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Beside the rendering: `<sha256>  <repo path>` lines (sha256sum's format, run from the repo root). */
export const RENDERED_INPUTS_FILE = 'test/nixos-module/rendered/tsdeploy-agent.service.inputs.sha256';

/** The rendering itself is listed too, so a hand edit of the unit the lab runs is caught like a module change. */
export const RENDERED_UNIT_FILE = 'test/nixos-module/rendered/tsdeploy-agent.service';

/** The file nix-instantiate is given: Nix never logs it as evaluated, the golden host is defined in it. */
export const EVAL_ROOT_FILE = 'test/nixos-module/eval.nix';

/** The pinned nixpkgs lib: another lib may render another unit. */
export const PINNED_LIB_FILE = 'test/nixos-module/nixpkgs-lib.json';

/** How a contributor regenerates the rendering and these digests (the lib: see fetchLibCommand). */
export const RENDER_COMMAND = 'TSDEPLOY_NIXPKGS_LIB=/tmp/nixpkgs.lib/lib node --import tsx test/nixos-module/render-unit.ts';

export interface InputDigest {
  /** Relative to the repo root, with `/`. */
  readonly path: string;
  readonly sha256: string;
}

export class RenderedInputsError extends Error {
  override name = 'RenderedInputsError' as const;
}

/**
 * The repo's files that Nix evaluated, from `nix-instantiate --debug`'s "evaluating file '…'" lines: exactly
 * the .nix files the rendering read (the module system imports every module; lazily unused files are not read).
 * Files outside the repo (the nixpkgs lib) are left out: the pin stands for them.
 */
export function evaluatedRepoFiles(debugLog: string, repo: string): string[] {
  const files = new Set<string>();
  for (const match of debugLog.matchAll(/^evaluating file '([^']+)'$/gm)) {
    const path = relative(repo, match[1] ?? '');
    if (path !== '' && !path.startsWith('..') && !path.startsWith('/')) files.add(path);
  }
  return [...files].sort();
}

/** What the rendering depends on: the evaluated files, the eval root, the lib pin, and the rendering. */
export function renderedInputPaths(evaluated: readonly string[]): string[] {
  if (!evaluated.includes('nixos-module/agent.nix')) {
    throw new RenderedInputsError(
      `Nix logged no "evaluating file '…/nixos-module/agent.nix'" line (found: ${evaluated.join(', ') || 'none'}); has its --debug output changed?`,
    );
  }
  return [...new Set([...evaluated, EVAL_ROOT_FILE, PINNED_LIB_FILE, RENDERED_UNIT_FILE])].sort();
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function formatInputDigests(digests: readonly InputDigest[]): string {
  return digests.map(({ path, sha256: digest }) => `${digest}  ${path}\n`).join('');
}

export function parseInputDigests(text: string): InputDigest[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, index) => {
      const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      if (match?.[1] === undefined || match[2] === undefined) {
        throw new RenderedInputsError(`${RENDERED_INPUTS_FILE} line ${index + 1} is not "<sha256>  <path>": ${line}`);
      }
      return { path: match[2], sha256: match[1] };
    });
}

/** The files whose content is no longer what the rendering was made from; a missing file has sha256 null. */
export function staleInputs(recorded: readonly InputDigest[], current: (path: string) => string | null): string[] {
  return recorded.filter(({ path, sha256: digest }) => current(path) !== digest).map(({ path }) => path);
}

/** One line that says which inputs changed and what to run. */
export function staleMessage(stale: readonly string[]): string {
  return `${stale.join(', ')} changed since the lab's agent unit was rendered: run ${RENDER_COMMAND} (and review the unit's diff)`;
}

/** The sha256 of a repo file, or null when it does not exist. */
export function fileDigest(repo: string, path: string): string | null {
  try {
    return sha256(readFileSync(join(repo, path)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
