// `reports export`: the queued signed reports, one envelope per line, for carrying to the centre.
import { defineCommand, EXIT, requireFlag } from '../../shared/cli.js';
import { writeFileAtomic } from '../../shared/files.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';
import { createRuntime } from '../runtime.js';

export const reportsExportCommand = defineCommand({
  name: 'reports export',
  summary: 'Write the queued signed reports (JSON lines) for `tsdeploy-controller reports import`.',
  usage: `${CONFIG_USAGE}  --out FILE      where to write them (0600)\n`,
  flags: { ...CONFIG_FLAG, out: { type: 'string' } },
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values);
    const out = requireFlag(values, 'out');
    const runtime = await createRuntime(config, io.logger(config, 'silent'));
    try {
      // Envelopes are queued as written; one line each, compacted.
      const lines = (await runtime.outbox.list()).map((text) => JSON.stringify(JSON.parse(text)));
      await writeFileAtomic(out, lines.length === 0 ? '' : `${lines.join('\n')}\n`, 0o600);
      io.out(`wrote ${lines.length} report(s) to ${out}\n`);
      return EXIT.ok;
    } finally {
      await runtime.close();
    }
  },
});
