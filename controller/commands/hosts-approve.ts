// `hosts approve HOST`: enrolls a pending request, or with --key a key carried over by hand.
import { defineCommand, EXIT, optionalFlag, UsageError } from '../../shared/cli.js';
import { hostName, publicKeyText } from '../../shared/flag-checks.js';
import { approveHost } from '../fleet/hosts-and-tokens.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

export const hostsApproveCommand = defineCommand({
  name: 'hosts approve',
  summary: 'Enroll HOST: its pending request, or the key given with --key.',
  usage:
    `${STATE_USAGE}  --key NAME:BASE64  the key the agent printed; guards against approving someone else's request,\n` +
    '                    and enrolls a host that never asked (an air-gapped one) with it\n' +
    "  --force           with --key: re-enroll a revoked host with that new key (its revoked keys stay refused)\n",
  flags: { ...STATE_FLAGS, key: { type: 'string', check: publicKeyText }, force: { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: 'HOST', check: hostName },
  async run({ values, positionals }, io: ControllerIo) {
    const host = positionals[0] ?? '';
    const key = optionalFlag(values, 'key');
    const force = values.force === true;
    if (force && key === undefined) throw new UsageError('--force needs --key NAME:BASE64: the new key to enroll the revoked host with');
    const store = await openStateDir(values, io.uid);
    const { record, changed } = await approveHost(store, host, key, io.now(), { force });
    const reEnrolled = record.history?.at(-1)?.event === 're-enrolled' && changed;
    io.out(
      !changed
        ? `${host}: already enrolled (key ${record.publicKey})\n`
        : reEnrolled
          ? `${host}: re-enrolled (key ${record.publicKey}); its ${record.revokedKeys.length} revoked key(s) stay refused\n`
          : `${host}: enrolled (key ${record.publicKey})\n`,
    );
    return EXIT.ok;
  },
});
