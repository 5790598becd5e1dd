// The systemd hosts' root filesystem: a Debian minbase with systemd and nix-bin, built once per machine and cached.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/command.js';
import { UserError } from '../../shared/errors.js';

/** Where the layers live; they outlive labs, so the ~35 s debootstrap runs once per machine. */
export const ROOTFS_CACHE_DIR = '/var/cache/tsdeploy-lab';

/**
 * Bump a layer's version whenever its recipe below changes: the directory name carries it, so a changed
 * recipe builds a new layer instead of reusing an old one. The nix layer names the base it was built on.
 */
export const BASE_LAYER_VERSION = 'base-v1';
export const NIX_LAYER_VERSION = `nix-v1-on-${BASE_LAYER_VERSION}`;

/** A build interrupted with its owner stops too, instead of writing into a temp dir the next build removes. */
const DIES_WITH_US = ['setpriv', '--pdeathsig', 'KILL', '--'] as const;

const BASE_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'iproute2', 'procps'] as const;

export class RootfsBuildError extends UserError {
  override name = 'RootfsBuildError' as const;
}

export interface RootfsLayers {
  /** Lower layers for overlayfs, uppermost first (as `lowerdir=` wants them). */
  readonly lowerDirs: readonly string[];
}

/** The suite (e.g. "bookworm") of the machine: the container must match it, since it runs the machine's node. */
export function debianSuite(osRelease: string): string | null {
  return /^VERSION_CODENAME=("?)([a-z]+)\1$/m.exec(osRelease)?.[2] ?? null;
}

/**
 * The Debian archive apt already uses (a one-line `deb URL SUITE …` or a deb822 `URIs:` stanza naming
 * SUITE), so debootstrap reaches the same mirror as the machine's own apt-get.
 */
export function debianMirror(sources: readonly string[], suite: string): string | null {
  for (const text of sources) {
    for (const line of text.split('\n')) {
      const match = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (match?.[2] === suite && match[1] !== undefined) return match[1];
    }
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      const types = /^Types:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uris !== undefined && types.includes('deb') && suites.includes(suite)) return uris;
    }
  }
  return null;
}

function readSources(): string[] {
  const files = ['/etc/apt/sources.list'];
  try {
    for (const name of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', name));
    }
  } catch {
    // no sources.list.d
  }
  return files.flatMap((file) => {
    try {
      return [readFileSync(file, 'utf8')];
    } catch {
      return [];
    }
  });
}

/** Builds `final` through `fill(temp)` and a rename: an interrupted build leaves only a temp dir, never a half layer. */
async function buildLayer(final: string, fill: (temp: string) => Promise<void>): Promise<void> {
  if (existsSync(final)) return;
  await mkdir(ROOTFS_CACHE_DIR, { recursive: true, mode: 0o755 });
  await removeStaleTemps();
  const temp = `${final}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    await fill(temp);
    await rename(temp, final).catch(async (error: unknown) => {
      // Another lab built the same layer meanwhile: keep theirs.
      if (!existsSync(final)) throw error;
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** Temp dirs of builds whose process is gone (killed mid-debootstrap). */
async function removeStaleTemps(): Promise<void> {
  for (const name of readdirSync(ROOTFS_CACHE_DIR)) {
    const pid = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (pid !== undefined && !existsSync(`/proc/${pid}`)) {
      await rm(join(ROOTFS_CACHE_DIR, name), { recursive: true, force: true });
    }
  }
}

async function buildBase(dir: string): Promise<void> {
  const suite = debianSuite(readFileSync('/etc/os-release', 'utf8'));
  if (suite === null) throw new RootfsBuildError('/etc/os-release names no VERSION_CODENAME: the systemd lab hosts need Debian');
  const mirror = debianMirror(readSources(), suite);
  if (mirror === null) throw new RootfsBuildError(`no apt source for ${suite} found in /etc/apt: debootstrap needs a Debian archive`);
  await runCommand({
    argv: [...DIES_WITH_US, 'debootstrap', '--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, suite, dir, mirror],
    timeoutMs: 1_200_000,
  });
  // Each host gets its own identity at its first boot.
  await writeFile(join(dir, 'etc/machine-id'), '');
  await rm(join(dir, 'etc/hostname'), { force: true });
  await rm(join(dir, 'var/lib/dbus/machine-id'), { force: true });
  await symlink('/etc/machine-id', join(dir, 'var/lib/dbus/machine-id'));
  await runCommand({ argv: ['chroot', dir, 'apt-get', 'clean'], timeoutMs: 120_000 });
}

/** nix-bin as a second layer: the upper dir of an overlay on the base, filled by apt inside a chroot. */
async function buildNixLayer(dir: string, base: string): Promise<void> {
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  const merged = join(dir, 'merged');
  for (const sub of [upper, work, merged]) await mkdir(sub, { recursive: true });
  // A private mount namespace: the overlay and /proc vanish with the shell, also if this process dies.
  const script = [
    'set -e',
    `mount -t overlay lab-rootfs -o lowerdir=${base},upperdir=${upper},workdir=${work} ${merged}`,
    `mount -t proc proc ${merged}/proc`,
    `cp /etc/resolv.conf ${merged}/etc/resolv.conf 2>/dev/null || true`,
    `DEBIAN_FRONTEND=noninteractive chroot ${merged} apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nix-bin </dev/null`,
    `chroot ${merged} apt-get clean`,
    `mkdir -p ${merged}/nix ${merged}/etc/nix`,
    `umount ${merged}/proc ${merged}`,
  ].join('\n');
  await runCommand({ argv: [...DIES_WITH_US, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script], timeoutMs: 1_200_000 });
  await rm(work, { recursive: true, force: true });
  await rm(merged, { recursive: true, force: true });
  await rename(upper, join(dir, 'layer'));
}

let prepared: Promise<RootfsLayers> | undefined;

/** The cached layers, built first if this machine has none of this version (about 40 s, once). */
export function prepareRootfs(): Promise<RootfsLayers> {
  prepared ??= (async () => {
    const base = join(ROOTFS_CACHE_DIR, `rootfs-${BASE_LAYER_VERSION}`);
    const nix = join(ROOTFS_CACHE_DIR, `rootfs-${NIX_LAYER_VERSION}`);
    await buildLayer(base, (temp) => buildBase(temp));
    await buildLayer(nix, (temp) => buildNixLayer(temp, base));
    return { lowerDirs: [join(nix, 'layer'), base] };
  })();
  prepared.catch(() => {
    prepared = undefined;
  });
  return prepared;
}
