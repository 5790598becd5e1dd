// End-to-end helpers for systemd lab hosts: the agent installed as the real tsdeploy-agent unit, as the NixOS module installs it.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/files.js';
import type { RealiseProgress, RebootReport } from '../../shared/report.js';
import { LAB_AGENT_CONFIG } from '../lab/agent-unit.js';
import type { Lab, SystemdLabHost } from '../lab/lab.js';
import { HEALTH_URL, readText, type LabController, type ReleaseKey } from './harness.js';

/** Where the agent reads its config and state on a NixOS host: the module's paths. */
export const UNIT_STATE_DIR = '/var/lib/tsdeploy-agent';
/** The module points enrollmentTokenFile at the unit's credential (LoadCredential=enrollment-token:…). */
export const TOKEN_CREDENTIAL = '/run/credentials/tsdeploy-agent.service/enrollment-token';

export class AgentInstallError extends Error {
  override name = 'AgentInstallError' as const;
}

/** The token file the rendered unit's LoadCredential reads. */
export function credentialSource(unitText: string): string {
  const source = /^LoadCredential=enrollment-token:(\/\S+)$/m.exec(unitText)?.[1];
  if (source === undefined) throw new AgentInstallError('the agent unit loads no enrollment-token credential');
  return source;
}

export interface UnitAgentOptions {
  readonly controller: LabController;
  readonly key: ReleaseKey;
  /** The system installed with the agent unit before the agent takes over (as a NixOS installer would). */
  readonly label: string;
  /** More agent config fields, merged over the lab's (e.g. reboot settings). */
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * false: no token file at all where the unit's LoadCredential reads it (one left by an earlier install is
   * removed), so the unit runs on its SetCredential fallback and the agent asks to be approved. Default true.
   */
  readonly tokenFile?: boolean;
}

async function mustExec(host: SystemdLabHost, argv: readonly string[]): Promise<void> {
  const result = await host.exec(argv);
  if (result.code !== 0) throw new AgentInstallError(`${host.name}: ${argv.join(' ')} exited ${result.code ?? 'on a signal'}: ${result.stderr}`);
}

/**
 * Gives a systemd host the agent as NixOS would: the config at /etc/tsdeploy/agent.json, the enrollment token where
 * the unit's LoadCredential reads it (unless `tokenFile` is false), and an installed system whose units include
 * tsdeploy-agent.service (enabled, so its switch starts it). Returns that system's store path.
 */
export async function installUnitAgent(lab: Lab<SystemdLabHost>, host: SystemdLabHost, options: UnitAgentOptions): Promise<string> {
  const source = credentialSource(lab.agentUnitText);
  if (options.tokenFile === false) {
    await mustExec(host, ['rm', '-f', source]);
  } else {
    const tokenFile = await options.controller.tokenFileFor(host);
    // The token is handed in through the host's read-only /run/keys and put where the unit reads it, as an operator would.
    await copyFile(tokenFile, join(host.keysDir, 'tsdeploy-enrollment-token'));
    await mustExec(host, ['install', '-D', '-m', '0600', '/run/keys/tsdeploy-enrollment-token', source]);
  }
  await writeUnitAgentConfig(host, options);
  const system = await lab.buildSystem('good', options.label, { agentUnit: true });
  await mustExec(host, ['nix-store', '--realise', system]);
  await mustExec(host, ['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', system]);
  await mustExec(host, [`${system}/bin/switch-to-configuration`, 'switch']);
  return system;
}

/** The agent's config at /etc/tsdeploy/agent.json: the lab's fields, `options.config` over them. */
async function writeUnitAgentConfig(host: SystemdLabHost, options: Omit<UnitAgentOptions, 'label' | 'tokenFile'>): Promise<void> {
  const config = {
    host: host.name,
    source: options.controller.url,
    trustedKeys: [options.key.publicKey],
    stateDir: UNIT_STATE_DIR,
    enrollmentTokenFile: TOKEN_CREDENTIAL,
    poll: { intervalSeconds: 1, jitterSeconds: 0, waitSeconds: 20 },
    health: {
      checks: [
        { type: 'http', url: HEALTH_URL, timeoutSeconds: 2 },
        { type: 'systemd', timeoutSeconds: 5 },
        { type: 'controller', timeoutSeconds: 3 },
      ],
      timeoutSeconds: 8,
      stableSeconds: 1,
      intervalSeconds: 0.5,
    },
    reports: { heartbeatSeconds: 5, queueLimit: 1000 },
    timeouts: { fetchSeconds: 3, realiseSeconds: 300, activateSeconds: 120 },
    logLevel: 'debug',
    ...options.config,
  };
  await writeFileAtomic(join(host.etcTsdeployDir, LAB_AGENT_CONFIG.slice('/etc/tsdeploy/'.length)), `${JSON.stringify(config, null, 2)}\n`);
}

/** Rewrites the agent's config with other `config` fields and restarts its unit, as a changed NixOS module would. */
export async function reconfigureUnitAgent(host: SystemdLabHost, options: Omit<UnitAgentOptions, 'label' | 'tokenFile'>): Promise<void> {
  await writeUnitAgentConfig(host, options);
  await mustExec(host, ['systemctl', 'restart', 'tsdeploy-agent.service']);
}

/** The fields of a host's reports the systemd tests look at. */
export interface ReportSeen {
  readonly kind: string;
  readonly time: string;
  readonly manifestVersion: number | null;
  readonly phase: string;
  readonly error: string | null;
  readonly progress?: RealiseProgress;
  readonly reboot?: RebootReport;
}

/** Every report the controller stored for `host`, oldest first (an empty list before the first). */
export async function reportsOf(controller: LabController, host: string): Promise<ReportSeen[]> {
  const text = await readText(join(controller.stateDir, 'reports', `${host}.log`)).catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const entry = JSON.parse(line) as { envelope?: { payload: string }; payload?: string };
      return JSON.parse(Buffer.from(entry.envelope?.payload ?? entry.payload ?? '', 'base64').toString('utf8')) as ReportSeen;
    });
}
