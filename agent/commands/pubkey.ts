// `pubkey`: the agent's public key (made on first use), for enrollment.
import { defineCommand, EXIT } from '../../shared/cli.js';
import { formatPublicKey, publicKeyOf } from '../../shared/keys.js';
import { ensureAgentKey } from '../adapters/identity.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';

export const pubkeyCommand = defineCommand({
  name: 'pubkey',
  summary: "Print this agent's public key (generated on first use) for enrollment.",
  usage: CONFIG_USAGE,
  flags: CONFIG_FLAG,
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values);
    // Only the key is needed: no source, controller client or effects.
    io.out(`${formatPublicKey(publicKeyOf(await ensureAgentKey(config.stateDir, config.host)))}\n`);
    return EXIT.ok;
  },
});
