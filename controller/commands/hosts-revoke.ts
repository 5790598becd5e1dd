// `hosts revoke HOST`: the host's key is no longer accepted for reports.
import { defineCommand, EXIT } from '../../shared/cli.js';
import { hostName } from '../../shared/flag-checks.js';
import { revokeHost } from '../fleet/hosts-and-tokens.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

export const hostsRevokeCommand = defineCommand({
  name: 'hosts revoke',
  summary: "Revoke HOST's enrolled key.",
  usage: STATE_USAGE,
  flags: STATE_FLAGS,
  positionals: { min: 1, max: 1, names: 'HOST', check: hostName },
  async run({ values, positionals }, io: ControllerIo) {
    const host = positionals[0] ?? '';
    const { record, changed } = await revokeHost(await openStateDir(values, io.uid), host, io.now());
    io.out(changed ? `${host}: revoked (key ${record.publicKey})\n` : `${host}: already revoked\n`);
    return EXIT.ok;
  },
});
