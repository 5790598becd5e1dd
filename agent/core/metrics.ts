// The agent's metrics as Prometheus text for node_exporter's textfile collector: a pure function of the journal.
import { DeploymentPhaseSchema, type Journal } from './journal.js';

/** Every phase a deployment can be in, from the journal's own schema, so a new phase is never left out. */
const PHASES = DeploymentPhaseSchema.options;

function line(name: string, help: string, type: 'gauge' | 'counter', samples: readonly [string, number][]): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${samples.map(([labels, value]) => `${name}${labels} ${value}\n`).join('')}`;
}

/** Prometheus text exposition of the journal's last deployment; `rebootNeeded` comes from the driver's last look. */
export function agentMetricsText(host: string, journal: Journal, rebootNeeded: boolean): string {
  const d = journal.deployment;
  const label = `{host="${host}"}`;
  const seconds = (iso: string) => Date.parse(iso) / 1000;
  const result = d === null ? 'none' : d.phase === 'confirmed' ? 'success' : d.phase === 'rolled-back' ? 'rolled-back' : d.phase === 'failed' ? 'failure' : 'in-progress';
  return [
    line('tsdeploy_agent_deployment_version', 'Manifest version of the last deployment (0 if none).', 'gauge', [[label, d?.version ?? 0]]),
    line(
      'tsdeploy_agent_deployment_phase',
      'The last deployment\'s phase: 1 for the phase it is in.',
      'gauge',
      PHASES.map((phase) => [`{host="${host}",phase="${phase}"}`, d?.phase === phase ? 1 : 0]),
    ),
    line(
      'tsdeploy_agent_deployment_result',
      'The last deployment\'s result: 1 for how it ended (or in-progress).',
      'gauge',
      (['success', 'rolled-back', 'failure', 'in-progress', 'none'] as const).map((r) => [`{host="${host}",result="${r}"}`, result === r ? 1 : 0]),
    ),
    line('tsdeploy_agent_deployment_timestamp_seconds', 'When the last deployment last changed phase (Unix time).', 'gauge', [[label, d === null ? 0 : seconds(d.updatedAt)]]),
    line('tsdeploy_agent_deployment_duration_seconds', 'From acceptance to the last phase change of the last deployment.', 'gauge', [
      [label, d === null ? 0 : Math.max(0, seconds(d.updatedAt) - seconds(d.startedAt))],
    ]),
    line('tsdeploy_agent_failed_versions', 'Versions that failed here and are not retried.', 'gauge', [[label, journal.failedVersions.length]]),
    line('tsdeploy_agent_reboot_needed', '1 when the running system differs from the booted one in kernel, initrd or modules.', 'gauge', [[label, rebootNeeded ? 1 : 0]]),
  ].join('');
}
