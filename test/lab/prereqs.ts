// Checks what the lab needs (Linux, root, Nix, iproute2, util-linux, systemd-nspawn, debootstrap) and runs scripts/install-prereqs.sh when something is missing.
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { runCommand } from '../../shared/command.js';
import { UserError, errorMessage } from '../../shared/errors.js';

export class LabPrerequisiteError extends UserError {
  override name = 'LabPrerequisiteError' as const;
}

/** Programs the lab runs, and the Debian package that brings each. */
const PROGRAMS: ReadonlyArray<readonly [string, string]> = [
  ['nix-build', 'nix-bin'],
  ['nix-store', 'nix-bin'],
  ['nix-env', 'nix-bin'],
  ['nix', 'nix-bin'],
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['setpriv', 'util-linux'],
  ['mount', 'mount'],
  ['systemd-nspawn', 'systemd-container'],
  ['debootstrap', 'debootstrap'],
];

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function onPath(program: string, path: readonly string[]): boolean {
  return path.some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The Debian packages whose programs are missing (pure apart from the file checks). */
export function missingPackages(path: readonly string[]): string[] {
  const missing = PROGRAMS.filter(([program]) => !onPath(program, path)).map(([, pkg]) => pkg);
  return [...new Set(missing)];
}

/** Why the lab cannot run here at all, or null. */
export function platformProblem(platform: string, uid: number | undefined, nodePath: string): string | null {
  if (platform !== 'linux') return `the fleet lab needs Linux (namespaces); this is ${platform}`;
  if (uid !== 0) return 'the fleet lab needs root (namespaces, mounts, veths): run the tests as root';
  if (nodePath.startsWith('/nix/')) {
    return `node is in /nix (${nodePath}), which each lab host hides behind its own empty store: use a node outside /nix`;
  }
  return null;
}

export const INSTALL_SCRIPT = new URL('../../scripts/install-prereqs.sh', import.meta.url).pathname;

let checked: Promise<void> | undefined;

/** Throws one line naming what is missing; installs it first when scripts/install-prereqs.sh can. */
export function ensureLabPrerequisites(): Promise<void> {
  checked ??= check();
  return checked;
}

async function check(): Promise<void> {
  const problem = platformProblem(process.platform, process.getuid?.(), process.execPath);
  if (problem !== null) throw new LabPrerequisiteError(problem);
  const path = [...new Set([...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...SEARCH_PATH])];
  if (missingPackages(path).length > 0 || !machineNixConfigured(readNixConf())) {
    try {
      await runCommand({ argv: ['bash', INSTALL_SCRIPT], timeoutMs: 900_000 });
    } catch (error) {
      throw new LabPrerequisiteError(`the fleet lab's prerequisites could not be installed: ${errorMessage(error)}`);
    }
  }
  const still = missingPackages(path);
  if (still.length > 0) {
    throw new LabPrerequisiteError(`the fleet lab needs ${still.join(', ')}: apt-get install ${still.join(' ')}`);
  }
  const nixBuild = path.map((dir) => join(dir, 'nix-build')).find((file) => onPath(basename(file), [dirname(file)]));
  if (nixBuild !== undefined && realpathSync(nixBuild).startsWith('/nix/')) {
    throw new LabPrerequisiteError(
      `Nix is installed in /nix (${realpathSync(nixBuild)}), which each lab host hides behind its own empty store: install Debian's nix-bin`,
    );
  }
  if (!machineNixConfigured(readNixConf())) {
    throw new LabPrerequisiteError('/etc/nix/nix.conf needs "sandbox = false" and an empty "substituters =": run scripts/install-prereqs.sh');
  }
}

function readNixConf(): string {
  try {
    return readFileSync('/etc/nix/nix.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Builds in the machine's store must not wait on outside caches, and Debian's Nix has no sandbox. */
export function machineNixConfigured(conf: string): boolean {
  const value = (key: string): string | undefined =>
    conf
      .split('\n')
      .map((line) => new RegExp(`^\\s*${key}\\s*=(.*)$`).exec(line)?.[1]?.trim())
      .filter((v) => v !== undefined)
      .pop();
  return value('sandbox') === 'false' && value('substituters') === '';
}
