// `hosts approve HOST`: enrolls a pending request, or with --key a key carried over by hand.
import { defineCommand, EXIT, optionalFlag } from '../../shared/cli.js';
import { hostName, publicKeyText } from '../../shared/flag-checks.js';
import { approveHost } from '../fleet/hosts-and-tokens.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

export const hostsApproveCommand = defineCommand({
  name: 'hosts approve',
  summary: 'Enroll HOST: its pending request, or the key given with --key.',
  usage: `${STATE_USAGE}  --key NAME:BASE64  the key the agent printed; guards against approving someone else's request\n`,
  flags: { ...STATE_FLAGS, key: { type: 'string', check: publicKeyText } },
  positionals: { min: 1, max: 1, names: 'HOST', check: hostName },
  async run({ values, positionals }, io: ControllerIo) {
    const host = positionals[0] ?? '';
    const store = await openStateDir(values, io.uid);
    const { record, changed } = await approveHost(store, host, optionalFlag(values, 'key'), io.now());
    io.out(changed ? `${host}: enrolled (key ${record.publicKey})\n` : `${host}: already enrolled (key ${record.publicKey})\n`);
    return EXIT.ok;
  },
});
