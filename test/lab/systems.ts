// Builds NixOS-shaped lab systems with nix-build in the machine's store (test/lab/systems/system.nix).
import { runCommand } from '../../shared/command.js';
import { UserError } from '../../shared/errors.js';
import { isStorePath } from '../../shared/validate.js';

export type SystemVariant = 'good' | 'broken' | 'unhealthy' | 'network-breaking' | 'large';

export const SYSTEM_VARIANTS: readonly SystemVariant[] = ['good', 'broken', 'unhealthy', 'network-breaking', 'large'];

export interface SystemOptions {
  /** Size of the random blob in a "large" system's closure. */
  sizeMiB?: number;
  /** Another kernel version gives other kernel, initrd and kernel-modules paths. */
  kernelVersion?: string;
  /** Seconds the activation pauses between stopping the old service and starting the new one. */
  activationDelaySeconds?: number;
}

/** Port of the lab service inside every host. */
export const SERVICE_PORT = 9100;

export const SYSTEM_NIX = new URL('./systems/system.nix', import.meta.url).pathname;

export class InvalidSystemError extends UserError {
  override name = 'InvalidSystemError' as const;
}

const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** nix-build argv for one system; `signer` other than "cache" yields a distinct path (for signature tests). */
export function systemBuildArgs(
  variant: SystemVariant,
  label: string,
  options: SystemOptions & { signer?: string; node?: string } = {},
): [string, ...string[]] {
  if (!LABEL_RE.test(label)) throw new InvalidSystemError(`invalid system label "${label}": use letters, digits, ".", "_", "+", "-"`);
  const sizeMiB = options.sizeMiB ?? (variant === 'large' ? 16 : 0);
  if (!Number.isInteger(sizeMiB) || sizeMiB < 0) throw new InvalidSystemError(`invalid sizeMiB ${sizeMiB}`);
  if (variant !== 'large' && sizeMiB !== 0) throw new InvalidSystemError('sizeMiB applies to "large" systems only');
  const kernelVersion = options.kernelVersion ?? '6.1.0-lab';
  if (!LABEL_RE.test(kernelVersion)) throw new InvalidSystemError(`invalid kernel version "${kernelVersion}"`);
  const delay = options.activationDelaySeconds ?? 0;
  if (!Number.isInteger(delay) || delay < 0 || delay > 600) throw new InvalidSystemError(`invalid activationDelaySeconds ${delay}`);
  const signer = options.signer ?? 'cache';
  if (!/^[a-z0-9-]+$/.test(signer)) throw new InvalidSystemError(`invalid signer "${signer}"`);
  return [
    'nix-build', SYSTEM_NIX, '--no-out-link',
    '--argstr', 'variant', variant,
    '--argstr', 'label', label,
    '--argstr', 'sizeMiB', String(sizeMiB),
    '--argstr', 'kernelVersion', kernelVersion,
    '--argstr', 'node', options.node ?? process.execPath,
    '--argstr', 'port', String(SERVICE_PORT),
    '--argstr', 'signer', signer,
    ...(delay === 0 ? [] : ['--argstr', 'activationDelay', String(delay)]),
  ];
}

/** Builds a system in the machine's store (instant when Nix already has it) and returns its toplevel. */
export async function buildSystemPath(
  variant: SystemVariant,
  label: string,
  options: SystemOptions & { signer?: string } = {},
): Promise<string> {
  const { stdout } = await runCommand({ argv: systemBuildArgs(variant, label, options), timeoutMs: 600_000 });
  const path = stdout.trim().split('\n').pop() ?? '';
  if (!isStorePath(path)) throw new InvalidSystemError(`nix-build printed no store path: ${stdout.trim()}`);
  return path;
}
