// `tokens create --host HOST`: a one-time enrollment token, shown once and stored only as its hash.
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { duration, hostName } from '../../shared/flag-checks.js';
import { createToken } from '../fleet/hosts-and-tokens.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

export const tokensCreateCommand = defineCommand({
  name: 'tokens create',
  summary: 'Print a one-time enrollment token for HOST (shown once).',
  usage: `  --host HOST       the host the token enrolls\n  --ttl 1h          how long it stays valid\n  --json            print host, token and expiry as JSON\n${STATE_USAGE}`,
  flags: { ...STATE_FLAGS, host: { type: 'string', check: hostName }, ttl: { type: 'string', default: '1h', check: duration }, json: { type: 'boolean' } },
  async run({ values }, io: ControllerIo) {
    const host = requireFlag(values, 'host');
    const ttlMs = parseDuration(values.ttl ?? '1h');
    const store = await openStateDir(values, io.uid);
    const { token, expiresAt } = await createToken(store, host, ttlMs, io.now());
    io.out(values.json === true ? `${JSON.stringify({ host, token, expiresAt })}\n` : `${token}\n`);
    return EXIT.ok;
  },
});
