// Helpers of the module test: evaluate or build an attribute of eval.nix for a host configuration given as JSON.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const repo = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const evalNix = join(repo, 'test/nixos-module/eval.nix');

/** The unit the systemd lab runs; its text must equal the module's rendering byte for byte. */
export const goldenUnitPath = join(repo, 'test/nixos-module/rendered/tsdeploy-agent.service');

/** The one place the nixpkgs lib revision is pinned. */
export const pinnedLib = JSON.parse(readFileSync(join(repo, 'test/nixos-module/nixpkgs-lib.json'), 'utf8')) as {
  readonly url: string;
  readonly rev: string;
};

/** The shell lines a contributor runs to get the pinned lib, as the README gives them. */
export const fetchLibCommand =
  `git clone ${pinnedLib.url} /tmp/nixpkgs.lib && git -C /tmp/nixpkgs.lib checkout ${pinnedLib.rev}; ` +
  'export TSDEPLOY_NIXPKGS_LIB=/tmp/nixpkgs.lib/lib';

/** The nixpkgs lib directory named by TSDEPLOY_NIXPKGS_LIB, or undefined. */
export function nixpkgsLibFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env['TSDEPLOY_NIXPKGS_LIB'];
  return value === undefined || value === '' ? undefined : value;
}

const nixpkgsLib = nixpkgsLibFromEnv();

/** false when the lib is there; otherwise why the module tests are skipped and how to run them. */
export const skip: string | false =
  nixpkgsLib === undefined
    ? 'TSDEPLOY_NIXPKGS_LIB is not set. No nixpkgs lib can be had from the npm registry or Debian\'s archive ' +
      `(the only sources CI reaches), so these tests need a checkout: ${fetchLibCommand}`
    : false;

/** Every run rebuilds the tsdeploy stand-in, which reads this checkout from outside the store. */
const nonce = `${process.pid}-${Date.now()}`;

/** Throw-away keys in Nix's `name:base64` format (any 32 bytes make a valid ed25519 public key here). */
export const releaseKey = 'release-1:lgteTiu6wqKRdM9lI/XpF6Q0d0p69O6O3PwJ6TS4Pbk=';
export const otherReleaseKey = 'release-2:yKVibCMSPPHIJqOZjsi9EztXmotv/fWkYrLs+/ticZQ=';
export const cacheKey = 'cache-1:q4SeTiu6wqKRdM9lI/XpF6Q0d0p69O6O3PwJ6TS4Pbk=';

export interface Unit {
  readonly description: string;
  readonly wantedBy: readonly string[];
  readonly wants: readonly string[];
  readonly after: readonly string[];
  readonly path: readonly string[];
  readonly environment: Readonly<Record<string, string | null>>;
  readonly restartIfChanged: boolean;
  readonly serviceConfig: Readonly<Record<string, unknown>>;
  readonly unitConfig: Readonly<Record<string, unknown>>;
}

export interface HostSummary {
  readonly failedAssertions: readonly string[];
  readonly warnings: readonly string[];
  readonly services: Readonly<Record<string, Unit>>;
  /** The unit files' text by file name, rendered as NixOS renders them. */
  readonly units: Readonly<Record<string, string>>;
  readonly nixSettings: Readonly<Record<string, unknown>>;
  readonly firewallTCPPorts: readonly number[];
  readonly etc: Readonly<Record<string, string>>;
  readonly systemPackages: readonly string[];
  readonly agentSettings: Readonly<Record<string, unknown>> | null;
  readonly controllerSettings: Readonly<Record<string, unknown>> | null;
  readonly meta: { readonly maintainers: readonly unknown[]; readonly doc: readonly string[] };
  readonly standIns: { readonly nix: string; readonly systemd: string; readonly tsdeploy: string };
}

export type HostConfig = Record<string, unknown>;

/** One module of host configuration, or several (to see how definitions of one option merge). */
export type HostModules = HostConfig | readonly HostConfig[];

function nixArgs(hostConfig: HostModules): string[] {
  const args: Record<string, string> = {
    nixpkgsLib: nixpkgsLib ?? '',
    repo,
    node: process.execPath,
    tsxLoader: import.meta.resolve('tsx'),
    nonce,
    hostConfig: JSON.stringify(hostConfig),
  };
  return Object.entries(args).flatMap(([name, value]) => ['--argstr', name, value]);
}

/** nix-instantiate or nix-build failed; `stderr` holds Nix's message. */
export class NixError extends Error {
  override name = 'NixError' as const;
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`${argv.slice(0, 2).join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

async function nixOutput(argv: readonly [string, ...string[]], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = typeof error === 'object' && error !== null && 'stderr' in error ? String(error.stderr) : String(error);
    throw new NixError(argv, stderr);
  }
}

async function nix(argv: readonly [string, ...string[]], timeoutMs: number): Promise<string> {
  return (await nixOutput(argv, timeoutMs)).stdout;
}

/** `nix-instantiate --eval --strict --json` of one attribute of eval.nix. */
export async function evaluate(attribute: string, hostConfig: HostModules = {}, readWrite = false): Promise<unknown> {
  const stdout = await nix(
    [
      'nix-instantiate',
      '--eval',
      '--strict',
      '--json',
      ...(readWrite ? ['--read-write-mode'] : []),
      evalNix,
      '-A',
      attribute,
      ...nixArgs(hostConfig),
    ],
    120_000,
  );
  return JSON.parse(stdout) as unknown;
}

/** Like `evaluate`, with Nix's --debug log, whose "evaluating file '…'" lines name every file the value read. */
export async function evaluateLogged(attribute: string): Promise<{ value: unknown; log: string }> {
  const { stdout, stderr } = await nixOutput(
    ['nix-instantiate', '--eval', '--strict', '--json', '--debug', evalNix, '-A', attribute, ...nixArgs({})],
    120_000,
  );
  return { value: JSON.parse(stdout) as unknown, log: stderr };
}

export async function evaluateHost(hostConfig: HostModules, attribute = 'host'): Promise<HostSummary> {
  return (await evaluate(attribute, hostConfig)) as HostSummary;
}

/** Builds one attribute of eval.nix with nix-build and returns its output path. */
export async function build(attribute: string, hostConfig: HostModules): Promise<string> {
  const stdout = await nix(['nix-build', '--no-out-link', evalNix, '-A', attribute, ...nixArgs(hostConfig)], 300_000);
  return stdout.trim().split('\n').pop() ?? '';
}

export async function buildJson(attribute: string, hostConfig: HostModules): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(await build(attribute, hostConfig), 'utf8')) as Record<string, unknown>;
}

export function unitOf(summary: HostSummary, name: string): Unit {
  const found = summary.services[name];
  if (found === undefined) throw new Error(`no systemd.services.${name}`);
  return found;
}

/** The text of a rendered unit file, e.g. `tsdeploy-agent.service`. */
export function unitText(summary: HostSummary, file: string): string {
  const text = summary.units[file];
  if (text === undefined) throw new Error(`no unit ${file}`);
  return text;
}

/** The `Key=value` lines of one `[Section]` of a unit file, in order. */
export function sectionLines(text: string, section: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`[${section}]`);
  if (start < 0) return [];
  const end = lines.findIndex((line, index) => index > start && line.startsWith('['));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line !== '');
}

export function agentHost(settings: Record<string, unknown> = {}, agent: Record<string, unknown> = {}, rest: HostConfig = {}): HostConfig {
  return {
    ...rest,
    services: {
      'tsdeploy-agent': {
        enable: true,
        ...agent,
        settings: { source: 'https://deploy.example.org', trustedKeys: [releaseKey], ...settings },
      },
    },
  };
}

export function controllerHost(settings: Record<string, unknown> = {}, controller: Record<string, unknown> = {}): HostConfig {
  return {
    services: {
      'tsdeploy-controller': { enable: true, ...controller, settings: { trustedReleaseKeys: [releaseKey], ...settings } },
    },
  };
}
