// Lab nodes: one long-lived holder process per node owns its network and mount namespaces; commands enter them with nsenter.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { CommandExitError, CommandTimeoutError, runCommand } from '../../shared/command.js';
import { errorMessage } from '../../shared/errors.js';
import { LAB_ENV_MARKER, labNamespacesOf } from './cleanup.js';

export interface LabExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  input?: string;
}

export interface LabExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface LabProcess {
  readonly pid: number;
  kill(signal?: NodeJS.Signals): void;
  /** The exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
}

export interface LabNode {
  readonly name: string;
  /** Its IPv4 address on the lab bridge. */
  readonly address: string;
  /** Runs argv inside the node; never throws on a non-zero exit (code is null on a timeout or signal). */
  exec(argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult>;
  /** Starts a long-running process inside the node; stdout and stderr go to logFile. */
  spawn(argv: readonly string[], options?: { env?: Record<string, string>; logFile?: string }): LabProcess;
  /** GET `url` from inside the node; null when nothing answers within timeoutMs. */
  httpGet(url: string, timeoutMs?: number): Promise<{ status: number; body: string } | null>;
}

/** A started node plus what the lab needs to tear it down. */
export interface NodeHandle extends LabNode {
  readonly holderPid: number;
  /** "net:[…]" and "mnt:[…]". */
  readonly namespaces: readonly string[];
  readonly logDir: string;
}

export class LabStartError extends Error {
  override name = 'LabStartError' as const;
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A clean environment, as on a freshly booted host; HOME lives on the node's private /run. */
export function nodeEnv(labId: string, extra: Record<string, string> | undefined): Record<string, string> {
  return { PATH: HOST_PATH, HOME: '/run/home', LANG: 'C.UTF-8', [LAB_ENV_MARKER]: labId, ...extra };
}

/** Starts a holder and waits for its "ready" line; it dies with this process (PR_SET_PDEATHSIG). */
export function startHolder(
  argv: readonly [string, ...string[]],
  labId: string,
  what: string,
): Promise<ChildProcess & { pid: number }> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv;
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: nodeEnv(labId, undefined) });
    let stdout = '';
    let stderr = '';
    const fail = (message: string): void => {
      child.kill('SIGKILL');
      reject(new LabStartError(`${what}: ${message}`));
    };
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (!stdout.includes('ready\n')) return;
      const pid = child.pid;
      if (pid === undefined) return fail('no pid');
      child.removeAllListeners('close');
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      resolve(Object.assign(child, { pid }));
    });
    child.on('error', (error) => fail(errorMessage(error)));
    child.on('close', (code) => fail(`holder exited with ${code ?? 'a signal'}: ${stderr.trim()}`));
  });
}

export interface SwitchHandle {
  readonly holderPid: number;
  readonly namespaces: readonly string[];
  /** Adds the named veth ends (already moved into the switch) to the bridge and brings them up. */
  attach(ports: readonly string[]): Promise<void>;
  /** Sets one port down or up: a cut cable, as seen from the host. */
  setPort(port: string, up: boolean): Promise<void>;
}

const SWITCH_SCRIPT = `set -e
ip link add br0 type bridge
ip link set br0 up
echo ready
exec sleep infinity`;

/** The lab's L2 switch: a bridge alone in its own network namespace, so nothing touches the machine's. */
export async function startSwitch(labId: string): Promise<SwitchHandle> {
  const holder = await startHolder(
    ['unshare', '-n', '--', 'setpriv', '--pdeathsig', 'KILL', '--', 'sh', '-c', SWITCH_SCRIPT],
    labId,
    'lab switch',
  );
  const pid = holder.pid;
  const ip = async (input: string): Promise<void> => {
    await runCommand({ argv: ['nsenter', '-t', String(pid), '-n', '--', 'ip', '-batch', '-'], input, timeoutMs: 60_000 });
  };
  return {
    holderPid: pid,
    namespaces: labNamespacesOf(pid),
    attach: (ports) => ip(ports.map((port) => `link set dev ${port} master br0 up\n`).join('')),
    setPort: (port, up) => ip(`link set dev ${port} ${up ? 'up' : 'down'}\n`),
  };
}

// Positional: $1 /nix source or "", $2 /etc/nix source or "", $3 switch pid, $4 switch-side port, $5 address/prefix.
const NODE_SCRIPT = `set -e
mount -t tmpfs -o mode=0755,size=256m tsdeploy-lab-run /run
mkdir -p /run/lab /run/home
if [ -n "$1" ]; then mount --bind "$1" /nix; fi
if [ -n "$2" ]; then mount --bind "$2" /etc/nix; fi
ip link set lo up
ip link add eth0 type veth peer name "$4" netns "$3"
ip addr add "$5" dev eth0
ip link set eth0 up
echo ready
exec sleep infinity`;

export interface NodeSpec {
  readonly labId: string;
  readonly name: string;
  /** The node's directory on the real FS (logs, and for hosts /nix, /etc/nix and the state dir). */
  readonly dir: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly switchPid: number;
  /** Bound over /nix inside the node (a host's private store); absent for infra. */
  readonly nixDir?: string;
  /** Bound over /etc/nix inside the node. */
  readonly etcNixDir?: string;
}

const HttpAnswerSchema = z.object({ status: z.number().int(), body: z.string() }).nullable();

/** The fetch used by `httpGet`, run by the machine's node inside the node's namespaces. */
const HTTP_GET_SCRIPT = `const [url, ms] = process.argv.slice(1);
let answer = 'null';
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(Number(ms)) });
  answer = JSON.stringify({ status: response.status, body: await response.text() });
} catch {}
// Exit now: an aborted connect would otherwise hold the process until the kernel gives up on it.
process.stdout.write(answer, () => process.exit(0));`;

/**
 * Starts a node: a holder in new network and mount namespaces (mounts private, a tmpfs on /run,
 * optionally a private /nix and /etc/nix), with eth0 wired to the lab switch.
 */
export async function startNode(spec: NodeSpec): Promise<NodeHandle> {
  const logDir = join(spec.dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const holder = await startHolder(
    [
      'unshare', '-n', '-m', '--propagation', 'private', '--',
      'setpriv', '--pdeathsig', 'KILL', '--',
      'sh', '-c', NODE_SCRIPT, 'lab-node',
      spec.nixDir ?? '', spec.etcNixDir ?? '', String(spec.switchPid), spec.name, `${spec.address}/${spec.prefixLength}`,
    ],
    spec.labId,
    `lab node ${spec.name}`,
  );
  const { exec, spawn: spawnIn, httpGet } = nodeCommands(['nsenter', '-t', String(holder.pid), '-m', '-n', '--'], spec.labId, logDir);
  return {
    name: spec.name,
    address: spec.address,
    holderPid: holder.pid,
    namespaces: labNamespacesOf(holder.pid),
    logDir,
    exec,
    spawn: spawnIn,
    httpGet,
  };
}

/** exec, spawn and httpGet for a node entered with the `enter` argv prefix (nsenter … --). */
export function nodeCommands(
  enter: readonly [string, ...string[]],
  labId: string,
  logDir: string,
  baseEnv: Record<string, string> = {},
): Pick<LabNode, 'exec' | 'spawn' | 'httpGet'> {
  let spawned = 0;

  const exec = async (argv: readonly string[], options: LabExecOptions = {}): Promise<LabExecResult> => {
    const stdoutLines: string[] = [];
    try {
      const result = await runCommand({
        argv: [...enter, ...argv],
        env: nodeEnv(labId, { ...baseEnv, ...options.env }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.input === undefined ? {} : { input: options.input }),
        onLine: (stream, line) => {
          if (stream === 'stdout') stdoutLines.push(line);
        },
      });
      return { code: 0, stdout: result.stdout, stderr: result.stderr };
    } catch (error) {
      const stdout = stdoutLines.length === 0 ? '' : `${stdoutLines.join('\n')}\n`;
      if (error instanceof CommandExitError) return { code: error.code, stdout, stderr: error.stderr };
      if (error instanceof CommandTimeoutError) return { code: null, stdout, stderr: error.message };
      throw error;
    }
  };

  const spawnIn = (argv: readonly string[], options: { env?: Record<string, string>; logFile?: string } = {}): LabProcess => {
    spawned += 1;
    const logFile = options.logFile ?? join(logDir, `${basename(argv[0] ?? 'process')}-${spawned}.log`);
    const fd = openSync(logFile, 'a');
    // setpriv: a test process that dies takes its agents and controllers with it.
    const [program, ...enterArgs] = enter;
    const child = spawn(program, [...enterArgs, 'setpriv', '--pdeathsig', 'KILL', '--', ...argv], {
      stdio: ['ignore', fd, fd],
      env: nodeEnv(labId, { ...baseEnv, ...options.env }),
    });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    // Stays referenced so that awaiting `exited` keeps the test alive; teardown kills it in any case.
    return {
      pid: child.pid ?? -1,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        child.kill(signal);
      },
      exited,
    };
  };

  const httpGet = async (url: string, timeoutMs = 5000): Promise<{ status: number; body: string } | null> => {
    const result = await exec([process.execPath, '--input-type=module', '-e', HTTP_GET_SCRIPT, url, String(timeoutMs)], {
      timeoutMs: timeoutMs + 30_000,
    });
    if (result.code !== 0) return null;
    return HttpAnswerSchema.parse(JSON.parse(result.stdout));
  };

  return { exec, spawn: spawnIn, httpGet };
}
