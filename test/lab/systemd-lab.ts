// The systemd kind of lab host: starts them on the cached rootfs and gives them the namespace hosts' interface plus a boot cycle.
import { chmod, copyFile, mkdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import { type Generation, profileGenerations } from './host-files.js';
import type { LabProcess } from './netns.js';
import { prepareRootfs } from './rootfs.js';
import { type SystemdHostSpec, type SystemdMachine, startSystemdHost } from './systemd-host.js';

/** Units of the Debian base that a lab host does not need: they only cost memory and noise. */
const MASKED_UNITS = [
  'console-getty.service',
  'getty@.service',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
  'systemd-pstore.service',
];

export const STAGE_2_INIT = new URL('./systems/stage-2-init.sh', import.meta.url).pathname;

/** The lab's own top layer, shared by the lab's systemd hosts: its stage-2 init and masks of needless units. */
export async function writeLabLayer(dir: string): Promise<string> {
  await mkdir(join(dir, 'lab'), { recursive: true });
  await copyFile(STAGE_2_INIT, join(dir, 'lab/stage-2-init'));
  await chmod(join(dir, 'lab/stage-2-init'), 0o755);
  const units = join(dir, 'etc/systemd/system');
  await mkdir(units, { recursive: true });
  for (const unit of MASKED_UNITS) await symlink('/dev/null', join(units, unit));
  return dir;
}

/** A systemd lab host: what tests use of a namespace host, plus a real PID 1, reboots and power cuts. */
export interface SystemdLabHost extends SystemdMachine {
  readonly kind: 'systemd';
  /** The host's directory on the real FS: root/ (overlay upper), nix/, etc-nix/, etc-tsdeploy/, keys/, state/, logs/. */
  readonly dir: string;
  /** The real-FS directory bound at /var/lib/tsdeploy-agent inside the host (the unit's StateDirectory). */
  readonly stateDir: string;
  /** Bound read-only at /etc/tsdeploy inside the host. */
  readonly etcTsdeployDir: string;
  /**
   * Bound read-only at /run/keys inside the host: how a token is handed in. The agent unit does not read it there
   * (/run/keys is emptied at every boot): installUnitAgent copies it to the unit's
   * LoadCredential source, rendered/lab-host.nix's enrollmentTokenFile (/var/lib/tsdeploy-agent-token).
   */
  readonly keysDir: string;
  currentSystem(): Promise<string | null>;
  /** /run/booted-system inside the host: the generation this boot started with. */
  bootedSystem(): Promise<string | null>;
  profileGenerations(): Promise<Generation[]>;
  healthStatus(): Promise<{ status: number; body: string } | null>;
  cutLink(): Promise<void>;
  restoreLink(): Promise<void>;
  /** Runs the agent as a plain process inside the host (tests of the unit use `systemctl` instead). */
  startAgent(configPath: string, logFile?: string): LabProcess;
}

export interface SystemdHostsContext {
  readonly labId: string;
  readonly labDir: string;
  readonly subnet: string;
  readonly hostCount: number;
  readonly nixConf: string;
  readonly switchPid: number;
  readonly repoDir: string;
  readonly servicePort: number;
  readonly agentArgv: readonly string[];
  readonly setPort: (port: string, up: boolean) => Promise<void>;
  readonly attach: (port: string) => Promise<void>;
  readonly onNamespaces: (host: string, namespaces: readonly string[]) => Promise<void>;
}

/** Prepares (or reuses) the rootfs and boots the lab's systemd hosts in parallel. */
export async function startSystemdHosts(context: SystemdHostsContext): Promise<SystemdLabHost[]> {
  const { lowerDirs } = await prepareRootfs();
  const labLayer = await writeLabLayer(join(context.labDir, 'systemd-layer'));
  return Promise.all(
    Array.from({ length: context.hostCount }, async (_, index) => {
      const name = `host${index}`;
      const dir = join(context.labDir, 'hosts', name);
      await mkdir(join(dir, 'etc-nix'), { recursive: true });
      await writeFileAtomic(join(dir, 'etc-nix', 'nix.conf'), context.nixConf);
      const spec: SystemdHostSpec = {
        labId: context.labId,
        name,
        dir,
        address: `${context.subnet}.${10 + index}`,
        prefixLength: 24,
        switchPid: context.switchPid,
        lowerDirs: [labLayer, ...lowerDirs],
        repoDir: context.repoDir,
        onNamespaces: (namespaces) => context.onNamespaces(name, namespaces),
        attach: context.attach,
      };
      const machine = await startSystemdHost(spec);
      return systemdLabHost(machine, dir, context);
    }),
  );
}

function systemdLabHost(machine: SystemdMachine, dir: string, context: SystemdHostsContext): SystemdLabHost {
  const runLink = async (name: string): Promise<string | null> => {
    try {
      return await readlink(`/proc/${machine.initPid()}/root/run/${name}`);
    } catch {
      return null;
    }
  };
  return {
    ...machine,
    kind: 'systemd',
    dir,
    stateDir: join(dir, 'state'),
    etcTsdeployDir: join(dir, 'etc-tsdeploy'),
    keysDir: join(dir, 'keys'),
    currentSystem: () => runLink('current-system'),
    bootedSystem: () => runLink('booted-system'),
    profileGenerations: () => profileGenerations(join(dir, 'nix')),
    healthStatus: () => machine.httpGet(`http://127.0.0.1:${context.servicePort}/health`, 2000),
    cutLink: () => context.setPort(machine.name, false),
    restoreLink: () => context.setPort(machine.name, true),
    startAgent: (configPath, logFile) =>
      machine.spawn([...context.agentArgv, 'run', '--config', configPath], { logFile: logFile ?? join(dir, 'logs', 'agent.log') }),
  };
}
