// A lab host whose PID 1 is a real systemd: systemd-nspawn on an overlay of the cached rootfs, in its own namespaces and cgroups.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../shared/command.js';
import { cgroupPids, hostCgroupDirs, makeHostCgroups, removeCgroupTree } from './cgroups.js';
import { labNamespacesOf, namespacesOf } from './cleanup.js';
import { type LabExecOptions, type LabExecResult, type LabNode, nodeCommands, startHolder } from './netns.js';

/** The systemd state words that mean "boot has finished" (`systemctl is-system-running --wait` returns one). */
const SETTLED = new Set(['running', 'degraded']);
const BOOT_DEADLINE_MS = 240_000;

export interface SystemdHostSpec {
  readonly labId: string;
  readonly name: string;
  /** The host's directory: root/ (overlay upper, work, merged), nix/, etc-nix/, etc-tsdeploy/, keys/, state/, logs/. */
  readonly dir: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly switchPid: number;
  /** Overlay lower dirs, uppermost first: the lab's own layer, then the cached rootfs layers. */
  readonly lowerDirs: readonly string[];
  /** Read-only inside the host at the same path (the repo, so the agent runs from it). */
  readonly repoDir: string;
  /** Called after every boot with the host's new namespaces, so teardown can find its processes. */
  readonly onNamespaces: (namespaces: readonly string[]) => Promise<void>;
  /** Connects the host's new cable to the lab switch. */
  readonly attach: (port: string) => Promise<void>;
}

export interface BootInfo {
  /** /proc/sys/kernel/random/boot_id inside the host: a new one at every boot. */
  readonly bootId: string;
  /** What `systemctl is-system-running --wait` said once boot settled: "running" or "degraded". */
  readonly state: string;
}

export interface UnitState {
  readonly activeState: string;
  readonly subState: string;
  readonly result: string;
  readonly mainPid: number;
  readonly restarts: number;
}

/** What a systemd host adds to a lab node: a boot cycle and a view of its units. */
export interface SystemdMachine extends LabNode {
  /** The pid (in the machine's pid namespace) of the host's PID 1, systemd. */
  initPid(): number;
  bootInfo(): Promise<BootInfo>;
  /** `systemctl reboot` inside; resolves once a new boot_id is there and the boot has settled. */
  reboot(): Promise<BootInfo>;
  /** SIGKILL of every process of the host at once (nothing is shut down), then a fresh boot. */
  powerCut(): Promise<BootInfo>;
  /** `journalctl -u UNIT -o cat` of the current boot. */
  journal(unit: string): Promise<string>;
  unitState(unit: string): Promise<UnitState>;
  /** Proportional set size of all the host's processes, in bytes. */
  memoryBytes(): number;
  /** Stops the host for good (teardown). */
  kill(): Promise<void>;
}

export class SystemdHostError extends Error {
  override name = 'SystemdHostError' as const;
}

const HOST_ENV = { HOME: '/root' };

/**
 * Supervisor: PID 1 of the host's own pid namespace (made by unshare with new mount, UTS and net namespaces).
 * Positional: $1 upper, $2 work, $3 merged, $4 lowerdir=, $5 console log, then nspawn's argv.
 */
const SUPERVISOR_SCRIPT = `set -e
mount -t tmpfs -o mode=0755,size=64m tsdeploy-lab-run /run
mount -t overlay tsdeploy-lab-root -o "lowerdir=$4,upperdir=$1,workdir=$2" "$3"
ip link set lo up
console=$5
shift 5
echo ready
exec >>"$console" 2>&1 </dev/null
while ! ip link show eth0 >/dev/null 2>&1; do sleep 0.02; done
set +e
while :; do
  ip link set eth0 up
  "$@"
  rc=$?
  echo "lab: systemd-nspawn exited with $rc"
  [ "$rc" = 133 ] || break
done`;

/** Starts a systemd host and waits for its first boot to settle. */
export async function startSystemdHost(spec: SystemdHostSpec): Promise<SystemdMachine> {
  const root = join(spec.dir, 'root');
  const logDir = join(spec.dir, 'logs');
  for (const sub of ['upper/etc', 'work', 'merged']) await mkdir(join(root, sub), { recursive: true });
  for (const sub of ['nix', 'etc-nix', 'etc-tsdeploy', 'keys', 'state', 'logs']) await mkdir(join(spec.dir, sub), { recursive: true, mode: 0o700 });
  // A fresh identity, kept across reboots and power cuts like a real machine's.
  await writeFile(join(root, 'upper/etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
  // A unit that ignores SIGTERM would hold a reboot for systemd's default 90 s; a lab host gives up after 15 s.
  await mkdir(join(root, 'upper/etc/systemd/system.conf.d'), { recursive: true });
  await writeFile(join(root, 'upper/etc/systemd/system.conf.d/lab.conf'), '[Manager]\nDefaultTimeoutStopSec=15s\n');

  const nspawn = [
    'systemd-nspawn', '--quiet', '--register=no', '--keep-unit', '--link-journal=no', '--console=read-only',
    '--network-namespace-path=/proc/1/ns/net', '--capability=CAP_NET_ADMIN',
    `--bind=${join(spec.dir, 'nix')}:/nix`,
    `--bind-ro=${join(spec.dir, 'etc-nix')}:/etc/nix`,
    `--bind-ro=${join(spec.dir, 'etc-tsdeploy')}:/etc/tsdeploy`,
    `--bind-ro=${join(spec.dir, 'keys')}:/run/keys`,
    `--bind=${join(spec.dir, 'state')}:/var/lib/tsdeploy-agent`,
    `--bind-ro=${process.execPath}`,
    `--bind-ro=${spec.repoDir}`,
    '-D', join(root, 'merged'), '-M', spec.name,
    '/lab/stage-2-init',
  ];
  let holderPid = -1;

  const enter = (): [string, ...string[]] => ['nsenter', '-t', String(initPid()), '-m', '-u', '-i', '-n', '-p', '-C', '-r', '-w', '--'];
  const commands = (): ReturnType<typeof nodeCommands> => nodeCommands(enter(), spec.labId, logDir, HOST_ENV);

  const initPid = (): number => {
    const [systemdDir] = hostCgroupDirs(spec.labId, spec.name);
    const text = (() => {
      try {
        return readFileSync(join(systemdDir ?? '', 'payload/init.scope/cgroup.procs'), 'utf8');
      } catch {
        return '';
      }
    })();
    const pid = Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new SystemdHostError(`${spec.name}: systemd is not running (booting, or powered off)`);
    return pid;
  };

  const exec = (argv: readonly string[], options?: LabExecOptions): Promise<LabExecResult> => commands().exec(argv, options);

  const waitSettled = async (previousBootId: string | null): Promise<BootInfo> => {
    // A deadline in time, not in attempts: under load each attempt takes longer, and a shutdown may wait on a unit's stop timeout.
    const deadline = Date.now() + BOOT_DEADLINE_MS;
    while (Date.now() < deadline) {
      try {
        initPid();
        const id = await exec(['cat', '/proc/sys/kernel/random/boot_id'], { timeoutMs: 10_000 });
        const bootId = id.stdout.trim();
        if (id.code === 0 && bootId !== '' && bootId !== previousBootId) {
          const state = (await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 120_000 })).stdout.trim();
          if (SETTLED.has(state)) return { bootId, state };
        }
      } catch {
        // between boots: no PID 1 yet
      }
      if (holderPid > 0 && namespacesOf(holderPid).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const tail = (await readFile(join(logDir, 'console.log'), 'utf8').catch(() => '')).trimEnd().split('\n').slice(-15).join('\n');
    throw new SystemdHostError(`${spec.name} did not boot; see ${join(logDir, 'console.log')}; its last lines:\n${tail}`);
  };

  const boot = async (): Promise<BootInfo> => {
    const holder = await startHolder(
      [
        'sh', '-c', 'echo $$ >"$1/cgroup.procs"; echo $$ >"$2/cgroup.procs"; shift 2; exec "$@"', 'lab-cgroup',
        ...hostCgroupDirs(spec.labId, spec.name),
        'setpriv', '--pdeathsig', 'KILL', '--',
        'unshare', '--mount', '--uts', '--net', '--pid', '--fork', '--kill-child=SIGKILL', '--mount-proc', '--propagation', 'private', '--',
        'sh', '-c', SUPERVISOR_SCRIPT, 'lab-supervisor',
        join(root, 'upper'), join(root, 'work'), join(root, 'merged'), spec.lowerDirs.join(':'), join(logDir, 'console.log'),
        ...nspawn,
      ],
      spec.labId,
      `systemd host ${spec.name}`,
    );
    holderPid = holder.pid;
    await spec.onNamespaces(labNamespacesOf(holderPid));
    // The cable: made from the machine's pid namespace, where the switch's pid means something.
    await waitForPortFree(spec.switchPid, spec.name);
    const ip = ['nsenter', '-t', String(holderPid), '-n', '--', 'ip'] as const;
    await runCommand({ argv: [...ip, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', spec.name, 'netns', String(spec.switchPid)] });
    await runCommand({ argv: [...ip, 'addr', 'add', `${spec.address}/${spec.prefixLength}`, 'dev', 'eth0'] });
    await spec.attach(spec.name);
    return waitSettled(null);
  };

  const killAll = async (): Promise<void> => {
    const dirs = hostCgroupDirs(spec.labId, spec.name);
    for (let round = 0; round < 500; round += 1) {
      const pids = [...new Set([holderPid, ...dirs.flatMap(cgroupPids)])].filter((pid) => pid > 0 && namespacesOf(pid).length > 0);
      if (pids.length === 0 && dirs.every((dir) => removeCgroupTree(dir))) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new SystemdHostError(`${spec.name}: processes or cgroups left after SIGKILL`);
  };

  // The holder's shell moves itself into these before it execs anything else.
  makeHostCgroups(spec.labId, spec.name);
  await boot();

  const bootInfo = async (): Promise<BootInfo> => {
    const id = (await exec(['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim();
    const state = (await exec(['systemctl', 'is-system-running'])).stdout.trim();
    return { bootId: id, state };
  };

  return {
    name: spec.name,
    address: spec.address,
    exec,
    spawn: (argv, options) => commands().spawn(argv, options),
    httpGet: (url, timeoutMs) => commands().httpGet(url, timeoutMs),
    initPid,
    bootInfo,
    async reboot() {
      const before = await bootInfo();
      await exec(['systemctl', 'reboot'], { timeoutMs: 30_000 });
      return waitSettled(before.bootId);
    },
    async powerCut() {
      await killAll();
      makeHostCgroups(spec.labId, spec.name);
      return boot();
    },
    journal: async (unit) => (await exec(['journalctl', '--no-pager', '-b', '-o', 'cat', '-u', unit])).stdout,
    async unitState(unit) {
      const result = await exec(['systemctl', 'show', '--property=ActiveState,SubState,Result,MainPID,NRestarts', unit]);
      const value = (key: string): string => new RegExp(`^${key}=(.*)$`, 'm').exec(result.stdout)?.[1] ?? '';
      return {
        activeState: value('ActiveState'),
        subState: value('SubState'),
        result: value('Result'),
        mainPid: Number(value('MainPID') || '0'),
        restarts: Number(value('NRestarts') || '0'),
      };
    },
    memoryBytes: () => hostCgroupDirs(spec.labId, spec.name).slice(0, 1).flatMap(cgroupPids).reduce((sum, pid) => sum + pss(pid), 0),
    kill: killAll,
  };
}

function pss(pid: number): number {
  try {
    const kib = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    return Number(kib ?? '0') * 1024;
  } catch {
    return 0;
  }
}

/** After a power cut the old cable's switch end vanishes with the old namespace, a moment later. */
async function waitForPortFree(switchPid: number, port: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    try {
      await runCommand({ argv: ['nsenter', '-t', String(switchPid), '-n', '--', 'ip', 'link', 'show', port] });
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new SystemdHostError(`the switch port ${port} is still there`);
}
