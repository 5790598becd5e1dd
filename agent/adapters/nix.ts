// Nix effects behind a narrow interface; their argv built by pure, tested functions.
import { readdir, readlink, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { runCommand } from '../../shared/command.js';
import type { Activation } from '../../shared/manifest.js';
import type { Logger } from '../../shared/log.js';
import { isStorePath } from '../../shared/validate.js';
import type { DryRunPlan } from '../core/preflight.js';
import type { FetchPlan } from '../core/realise-progress.js';
import type { GenerationLink } from '../core/rollback-plan.js';
import type { Nix, ProfileState } from '../ports.js';
import { createTransientActivation } from './transient-activation.js';

export type { Nix, ProfileState } from '../ports.js';

export function realiseArgs(storePath: string, gcRoot: string): [string, ...string[]] {
  return ['nix-store', '--realise', storePath, '--add-root', gcRoot];
}

export function dryRunArgs(storePath: string): [string, ...string[]] {
  return ['nix-store', '--realise', '--dry-run', storePath];
}

export function setProfileArgs(profile: string, storePath: string): [string, ...string[]] {
  return ['nix-env', '--profile', profile, '--set', storePath];
}

export function switchGenerationArgs(profile: string, generation: number): [string, ...string[]] {
  return ['nix-env', '--profile', profile, '--switch-generation', String(generation)];
}

export function deleteGenerationsArgs(profile: string, generations: readonly number[]): [string, ...string[]] {
  return ['nix-env', '--profile', profile, '--delete-generations', ...generations.map(String)];
}

export function switchArgs(systemPath: string, action: Activation): [string, ...string[]] {
  return [join(systemPath, 'bin', 'switch-to-configuration'), action];
}

/** `nix show-config --json`: Nix's effective settings, substituters among them (`nix config show` in newer Nix keeps this alias). */
export function showConfigArgs(): [string, ...string[]] {
  return ['nix', '--extra-experimental-features', 'nix-command', 'show-config', '--json'];
}

/** What `nix-store --realise --dry-run` says it would fetch; null when nothing needs fetching. */
export function parseDryRun(output: string): DryRunPlan | null {
  const match = /these (\d+) paths? will be fetched \(([\d.]+) MiB download, ([\d.]+) MiB unpacked\)/.exec(output);
  if (match === null) {
    const single = /this path will be fetched \(([\d.]+) MiB download, ([\d.]+) MiB unpacked\)/.exec(output);
    if (single === null) return null;
    return { paths: 1, downloadBytes: mib(single[1]), unpackedBytes: mib(single[2]) };
  }
  return { paths: Number(match[1]), downloadBytes: mib(match[2]), unpackedBytes: mib(match[3]) };
}

/** The paths the dry run lists under "will be fetched", with the unpacked total: what realise progress counts against. */
export function parseFetchPlan(output: string): FetchPlan | null {
  const plan = parseDryRun(output);
  if (plan === null) return null;
  const paths: string[] = [];
  let inList = false;
  for (const line of output.split('\n')) {
    if (/will be fetched/.test(line)) {
      inList = true;
    } else if (inList && /^\s+\/nix\/store\//.test(line)) {
      const path = line.trim();
      if (isStorePath(path)) paths.push(path);
    } else if (inList) {
      inList = false;
    }
  }
  return { paths, bytesTotal: plan.unpackedBytes };
}

/** Prints the paths that are not valid (yet); exit 0 either way. */
export function checkValidityArgs(paths: readonly string[]): [string, ...string[]] {
  return ['nix-store', '--check-validity', '--print-invalid', ...paths];
}

/** The NAR size of each (valid) path, one line each, in order. */
export function querySizeArgs(paths: readonly string[]): [string, ...string[]] {
  return ['nix-store', '--query', '--size', ...paths];
}

function mib(text: string | undefined): number {
  return Math.round(Number(text ?? '0') * 1024 * 1024);
}

/** The generation number encoded in a profile link target such as "system-12-link". */
export function parseGenerationLink(profile: string, target: string): number | null {
  const prefix = `${basename(profile)}-`;
  const name = basename(target);
  if (!name.startsWith(prefix) || !name.endsWith('-link')) return null;
  const number = Number(name.slice(prefix.length, -'-link'.length));
  return Number.isSafeInteger(number) && number > 0 ? number : null;
}

async function resolveLink(path: string): Promise<string | null> {
  try {
    let target = await readlink(path);
    for (let hops = 0; hops < 8 && !target.startsWith('/nix/store/'); hops += 1) {
      target = await readlink(target.startsWith('/') ? target : join(dirname(path), target));
    }
    return isStorePath(target) ? target : null;
  } catch {
    return null;
  }
}

export interface NixOptions {
  readonly log: Logger;
  readonly realiseTimeoutMs: number;
  readonly activateTimeoutMs: number;
  /** At the time limit a running activation is reported and waited for ("wait"), or stopped and failed ("stop"). */
  readonly onActivationOverrun?: 'wait' | 'stop';
  /** True when systemd is PID 1 (default: /run/systemd/system exists); activations then run in a transient unit. */
  readonly systemdRunning?: () => Promise<boolean>;
  readonly currentSystemLink?: string;
  readonly bootedSystemLink?: string;
}

/** The real Nix, run as argv arrays with timeouts; every output line goes to the log. */
export function createNix(options: NixOptions): Nix {
  const { log } = options;
  const run = (argv: [string, ...string[]], timeoutMs: number) =>
    runCommand({
      argv,
      timeoutMs,
      onLine: (stream, line) => {
        if (line.trim() !== '') log.info({ command: argv[0], stream, line }, 'command output');
      },
    });
  const readProfile = async (profile: string): Promise<ProfileState | null> => {
    let target: string;
    try {
      target = await readlink(profile);
    } catch {
      return null;
    }
    const generation = parseGenerationLink(profile, target);
    const path = await resolveLink(profile);
    return generation === null || path === null ? null : { generation, path };
  };
  const requireProfile = async (profile: string): Promise<ProfileState> => {
    const state = await readProfile(profile);
    if (state === null) throw new Error(`profile ${profile} does not point to a generation`);
    return state;
  };
  const activate = createTransientActivation({
    log,
    limitMs: options.activateTimeoutMs,
    overrun: options.onActivationOverrun ?? 'wait',
    ...(options.systemdRunning === undefined ? {} : { systemdRunning: options.systemdRunning }),
    async runDirect(systemPath, action) {
      const { stdout, stderr } = await run(switchArgs(systemPath, action), options.activateTimeoutMs);
      return `${stdout}${stderr}`;
    },
  });
  return {
    async dryRun(storePath) {
      const { stdout, stderr } = await runCommand({ argv: dryRunArgs(storePath), timeoutMs: 120_000 });
      return parseDryRun(`${stdout}\n${stderr}`);
    },
    async realise(storePath, gcRoot, onLine) {
      const argv = realiseArgs(storePath, gcRoot);
      await runCommand({
        argv,
        timeoutMs: options.realiseTimeoutMs,
        onLine: (stream, line) => {
          if (line.trim() === '') return;
          log.info({ command: argv[0], stream, line }, 'command output');
          onLine?.(line);
        },
      });
    },
    readProfile,
    async listGenerations(profile) {
      let names: string[];
      try {
        names = await readdir(dirname(profile));
      } catch {
        return [];
      }
      const links: GenerationLink[] = [];
      for (const name of names) {
        const generation = parseGenerationLink(profile, name);
        if (generation === null) continue;
        const path = await resolveLink(join(dirname(profile), name));
        if (path !== null) links.push({ generation, path });
      }
      return links.sort((a, b) => a.generation - b.generation);
    },
    async setProfile(profile, storePath) {
      await run(setProfileArgs(profile, storePath), 120_000);
      return requireProfile(profile);
    },
    async switchGeneration(profile, generation) {
      await run(switchGenerationArgs(profile, generation), 120_000);
      return requireProfile(profile);
    },
    async deleteGenerations(profile, generations) {
      if (generations.length === 0) return;
      await run(deleteGenerationsArgs(profile, generations), 120_000);
    },
    async dropRoot(gcRoot, storePath) {
      const target = await readlink(gcRoot).catch(() => null);
      if (target !== storePath) return false;
      await rm(gcRoot, { force: true });
      return true;
    },
    activate,
    currentSystem: () => resolveLink(options.currentSystemLink ?? '/run/current-system'),
    bootedSystem: () => resolveLink(options.bootedSystemLink ?? '/run/booted-system'),
  };
}
