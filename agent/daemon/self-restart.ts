// Whether a new generation replaced the agent's own unit, so the daemon must exit for systemd to start the new one.
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';

/** True when a confirmed switch changed the agent's own unit: the daemon then exits so systemd starts the new one. */
export async function agentUnitChanged(previousSystem: string | null, newSystem: string): Promise<boolean> {
  if (previousSystem === null || previousSystem === newSystem) return false;
  const unit = (system: string) => realpath(join(system, 'etc/systemd/system/tsdeploy-agent.service')).catch(() => null);
  const [before, after] = await Promise.all([unit(previousSystem), unit(newSystem)]);
  return before !== after;
}

