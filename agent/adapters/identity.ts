// The agent's own key pair, generated in its state directory on first start.
import { pathExists } from '../../shared/files.js';
import { generateKeyPair, readSecretKeyFile, writeKeyPair, type SecretKey } from '../../shared/keys.js';
import { agentStatePaths } from '../../shared/layout.js';

export function agentKeyName(host: string): string {
  return `tsdeploy-agent-${host}`;
}

/** Loads the agent key, creating it (0600) if none exists yet. */
export async function ensureAgentKey(stateDir: string, host: string): Promise<SecretKey> {
  const name = agentKeyName(host);
  const secretPath = agentStatePaths(stateDir).secretKey(name);
  if (!(await pathExists(secretPath))) await writeKeyPair(stateDir, generateKeyPair(name));
  return readSecretKeyFile(secretPath);
}

