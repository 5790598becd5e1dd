// What systemd says of the host as a whole (`systemctl is-system-running`), for the shutdown checks.
import { CommandExitError, runCommand } from '../../shared/command.js';

/** The state word ("running", "degraded", "stopping", …); "unknown" when systemctl cannot be run. */
export function systemState(): Promise<string> {
  return runCommand({ argv: ['systemctl', 'is-system-running'], timeoutMs: 10_000 }).then(
    (result) => result.stdout.trim(),
    (error: unknown) => (error instanceof CommandExitError ? error.stdout.trim() : 'unknown'),
  );
}
