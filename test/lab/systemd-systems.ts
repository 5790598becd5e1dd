// Builds lab systems for systemd hosts (test/lab/systems/systemd-system.nix): units in etc/systemd/system, a systemctl-driving switch.
import { runCommand } from '../../shared/command.js';
import { isStorePath } from '../../shared/validate.js';
import { InvalidSystemError, SERVICE_PORT, SYSTEM_VARIANTS, type SystemOptions, type SystemVariant, buildSystemPath } from './systems.js';

/** `no-service` lacks lab-service.service: switching to it must stop the unit, as NixOS stops a removed unit. */
export type SystemdSystemVariant = 'good' | 'broken' | 'unhealthy' | 'network-breaking' | 'new-kernel' | 'agent-unit-change' | 'large' | 'no-service';

export const SYSTEMD_SYSTEM_VARIANTS: readonly SystemdSystemVariant[] = [
  'good',
  'broken',
  'unhealthy',
  'network-breaking',
  'new-kernel',
  'agent-unit-change',
  'large',
  'no-service',
];

export const SYSTEMD_SYSTEM_NIX = new URL('./systems/systemd-system.nix', import.meta.url).pathname;

export interface SystemdSystemOptions {
  /** The tsdeploy-agent unit text to install (and enable) in the system; none when absent. */
  agentUnit?: string;
  /** Defaults to "6.1.0-lab", and to "6.6.0-lab" for the new-kernel variant. */
  kernelVersion?: string;
  /** Seconds the switch pauses half-way (units stopped, new ones not yet started); 0 by default. */
  activationDelaySeconds?: number;
  /** Size of the random blob in a "large" system's closure (default 16). */
  sizeMiB?: number;
}

const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export function isSystemdSystemVariant(variant: string): variant is SystemdSystemVariant {
  return (SYSTEMD_SYSTEM_VARIANTS as readonly string[]).includes(variant);
}

/** nix-build argv for one systemd-host system; `signer` other than "cache" yields a distinct path. */
export function systemdSystemBuildArgs(
  variant: SystemdSystemVariant,
  label: string,
  options: SystemdSystemOptions & { signer?: string; node?: string } = {},
): [string, ...string[]] {
  if (!LABEL_RE.test(label)) throw new InvalidSystemError(`invalid system label "${label}": use letters, digits, ".", "_", "+", "-"`);
  const kernelVersion = options.kernelVersion ?? (variant === 'new-kernel' ? '6.6.0-lab' : '6.1.0-lab');
  if (!LABEL_RE.test(kernelVersion)) throw new InvalidSystemError(`invalid kernel version "${kernelVersion}"`);
  const signer = options.signer ?? 'cache';
  if (!/^[a-z0-9-]+$/.test(signer)) throw new InvalidSystemError(`invalid signer "${signer}"`);
  const delay = options.activationDelaySeconds ?? 0;
  if (!Number.isInteger(delay) || delay < 0 || delay > 600) throw new InvalidSystemError(`invalid activationDelaySeconds ${delay}`);
  const sizeMiB = options.sizeMiB ?? (variant === 'large' ? 16 : 0);
  if (!Number.isInteger(sizeMiB) || sizeMiB < 0 || sizeMiB > 4096) throw new InvalidSystemError(`invalid sizeMiB ${sizeMiB}`);
  if (variant !== 'large' && sizeMiB !== 0) throw new InvalidSystemError('sizeMiB applies to "large" systems only');
  if (variant === 'agent-unit-change' && options.agentUnit === undefined) {
    throw new InvalidSystemError('an agent-unit-change system needs the agent unit (agentUnit)');
  }
  return [
    'nix-build', SYSTEMD_SYSTEM_NIX, '--no-out-link',
    '--argstr', 'variant', variant,
    '--argstr', 'label', label,
    '--argstr', 'kernelVersion', kernelVersion,
    '--argstr', 'node', options.node ?? process.execPath,
    '--argstr', 'port', String(SERVICE_PORT),
    '--argstr', 'signer', signer,
    '--argstr', 'agentUnit', options.agentUnit ?? '',
    ...(delay === 0 ? [] : ['--argstr', 'activationDelay', String(delay)]),
    ...(sizeMiB === 0 ? [] : ['--argstr', 'sizeMiB', String(sizeMiB)]),
  ];
}

export async function buildSystemdSystemPath(
  variant: SystemdSystemVariant,
  label: string,
  options: SystemdSystemOptions & { signer?: string } = {},
): Promise<string> {
  const { stdout } = await runCommand({ argv: systemdSystemBuildArgs(variant, label, options), timeoutMs: 600_000 });
  const path = stdout.trim().split('\n').pop() ?? '';
  if (!isStorePath(path)) throw new InvalidSystemError(`nix-build printed no store path: ${stdout.trim()}`);
  return path;
}

/** Builds a system of the kind a lab's hosts run: SystemVariant systems for namespace hosts, SystemdSystemVariant ones for systemd hosts. */
export async function buildLabSystem(
  kind: 'namespace' | 'systemd',
  variant: SystemVariant | SystemdSystemVariant,
  label: string,
  options: SystemOptions & SystemdSystemOptions & { signer: string },
): Promise<string> {
  const { agentUnit, ...systemOptions } = options;
  if (kind === 'systemd') {
    if (!isSystemdSystemVariant(variant)) throw new InvalidSystemError(`systemd lab hosts have no "${variant}" system`);
    const kernel = systemOptions.kernelVersion === undefined ? {} : { kernelVersion: systemOptions.kernelVersion };
    const delay = systemOptions.activationDelaySeconds === undefined ? {} : { activationDelaySeconds: systemOptions.activationDelaySeconds };
    const size = systemOptions.sizeMiB === undefined ? {} : { sizeMiB: systemOptions.sizeMiB };
    return buildSystemdSystemPath(variant, label, { ...kernel, ...delay, ...size, signer: options.signer, ...(agentUnit === undefined ? {} : { agentUnit }) });
  }
  const namespaceVariant = SYSTEM_VARIANTS.find((known) => known === variant);
  if (namespaceVariant === undefined) throw new InvalidSystemError(`"${variant}" systems need systemd lab hosts`);
  return buildSystemPath(namespaceVariant, label, systemOptions);
}
