// `hosts list`: enrollment requests and enrolled agent keys in the state directory.
import { defineCommand, EXIT } from '../../shared/cli.js';
import { openStateDir, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

export const hostsListCommand = defineCommand({
  name: 'hosts list',
  summary: 'Enrollment requests and enrolled agent keys.',
  usage: `${STATE_USAGE}  --json            print them as JSON\n`,
  flags: { ...STATE_FLAGS, json: { type: 'boolean' } },
  async run({ values }, io: ControllerIo) {
    const records = await (await openStateDir(values, io.uid, 'read')).listHosts();
    if (values.json === true) {
      io.out(`${JSON.stringify({ hosts: records }, null, 2)}\n`);
      return EXIT.ok;
    }
    if (records.length === 0) {
      io.out('no hosts have asked to enroll yet\n');
      return EXIT.ok;
    }
    const width = Math.max(4, ...records.map((r) => r.host.length));
    io.out(`${'HOST'.padEnd(width)}  ${'STATUS'.padEnd(8)}  KEY\n`);
    for (const r of records) io.out(`${r.host.padEnd(width)}  ${r.status.padEnd(8)}  ${r.publicKey}\n`);
    return EXIT.ok;
  },
});
