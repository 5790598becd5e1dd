// `reports import`: signed reports carried back from hosts with no controller, accepted exactly as POST /v1/hosts/:host/reports accepts them.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { defineCommand, EXIT } from '../../shared/cli.js';
import { decodeEnvelope } from '../../shared/dsse.js';
import { errorMessage, UserError } from '../../shared/errors.js';
import { printable } from '../../shared/printable.js';
import { HostNameSchema } from '../../shared/validate.js';
import { openIntake } from '../bundle/intake.js';
import { releaseKeys } from '../config.js';
import { CONTROLLER_FLAG, openSite, STATE_FLAGS, STATE_USAGE, type ControllerIo } from './context.js';

export class ReportsFileError extends UserError {
  override name = 'ReportsFileError' as const;
}

/**
 * Which host and seq a line claims, read before any signature check only to pick the host's enrolled
 * key and an order; the intake then verifies everything. Null when the line is not a report envelope.
 */
export function peekReport(line: string): { host: string; seq: number } | null {
  try {
    const envelope = decodeEnvelope(Buffer.from(line, 'utf8'));
    const payload: unknown = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return null;
    const host = HostNameSchema.safeParse((payload as { host?: unknown }).host);
    const seq = (payload as { seq?: unknown }).seq;
    if (!host.success || typeof seq !== 'number' || !Number.isSafeInteger(seq)) return null;
    return { host: host.data, seq };
  } catch {
    return null;
  }
}

export const reportsImportCommand = defineCommand({
  name: 'reports import',
  summary: 'Accept reports carried from hosts (FILE holds the JSON lines of `tsdeploy-agent reports export`).',
  usage: `${STATE_USAGE}  --controller URL  a running controller to submit through\n`,
  flags: { ...STATE_FLAGS, ...CONTROLLER_FLAG },
  positionals: { min: 1, max: 1, names: 'FILE' },
  async run({ values, positionals }, io: ControllerIo) {
    const file = positionals[0] ?? '';
    const lines: Array<{ line: number; text: string; claim: { host: string; seq: number } | null }> = [];
    try {
      let number = 0;
      for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        number += 1;
        if (text.trim() !== '') lines.push({ line: number, text, claim: peekReport(text) });
      }
    } catch (error) {
      throw new ReportsFileError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
    }
    // Each host's reports in seq order, whatever order the files were joined in.
    lines.sort((a, b) => (a.claim?.seq ?? 0) - (b.claim?.seq ?? 0) || a.line - b.line);

    const site = await openSite(values, io.uid, null);
    const intake = await openIntake({
      store: site.store,
      trustedKeys: site.config === null ? [] : releaseKeys(site.config),
      threshold: site.config?.releaseThreshold ?? 1,
      controllerUrl: site.controllerUrl,
      now: () => io.now(),
    });
    const counts = { accepted: 0, duplicate: 0, refused: 0 };
    try {
      for (const { line, text, claim } of lines) {
        if (claim === null) {
          counts.refused += 1;
          io.err(`line ${line}: refused: not a signed report envelope\n`);
          continue;
        }
        const outcome = await intake.submitReport(claim.host, new Uint8Array(Buffer.from(text, 'utf8')));
        if (outcome.kind === 'stored' || outcome.kind === 'same') counts.accepted += 1;
        else if (outcome.kind === 'duplicate') counts.duplicate += 1;
        else {
          counts.refused += 1;
          io.err(`line ${line} (${claim.host} seq ${claim.seq}): refused: ${printable(outcome.error)}\n`);
        }
      }
    } finally {
      await intake.close();
    }
    const via = intake.mode === 'server' ? 'through the running controller' : `into ${site.store.stateDir}`;
    io.out(`reports from ${file} ${via}: ${counts.accepted} accepted, ${counts.duplicate} duplicate, ${counts.refused} refused\n`);
    return counts.refused > 0 ? EXIT.rejected : EXIT.ok;
  },
});
