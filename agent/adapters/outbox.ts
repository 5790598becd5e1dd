// Signed reports queued on disk, delivered in order, bounded (oldest dropped first, and counted).
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { signEnvelope, encodeEnvelope } from '../../shared/dsse.js';
import { fsyncDirectory, writeFileAtomic } from '../../shared/files.js';
import type { SecretKey } from '../../shared/keys.js';
import { encodeReport, REPORT_PAYLOAD_TYPE, type Report } from '../../shared/report.js';
import type { Delivery } from './controller-client.js';
import { agentStatePaths } from '../../shared/layout.js';

export interface OutboxStats {
  readonly queued: number;
  readonly dropped: number;
  readonly nextSeq: number;
}

export interface Outbox {
  /** Assigns the next sequence number, signs the report and queues it durably. */
  enqueue(report: Omit<Report, 'seq'>): Promise<number>;
  /** Delivers queued reports in order until one cannot be delivered; resolves true when the queue is empty. */
  flush(send: (envelope: string) => Promise<Delivery>): Promise<boolean>;
  /** Every queued envelope, oldest first, as written. */
  list(): Promise<string[]>;
  stats(): Promise<OutboxStats>;
}

interface Meta {
  nextSeq: number;
  dropped: number;
}

const NAME_RE = /^(\d{16})\.json$/;

export function createOutbox(stateDir: string, key: SecretKey, limit: number, onEvent?: (msg: string, fields: object) => void): Outbox {
  const { outboxDir: dir, outboxMeta: metaPath } = agentStatePaths(stateDir);
  let chain: Promise<unknown> = Promise.resolve();
  let flushing: Promise<boolean> | null = null;
  /** Serialises every operation: sequence numbers and deletions never interleave. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = chain.then(fn, fn);
    chain = result.catch(() => undefined);
    return result;
  };
  const readMeta = async (): Promise<Meta> => {
    try {
      const json = JSON.parse(await readFile(metaPath, 'utf8')) as Partial<Meta>;
      return { nextSeq: Number(json.nextSeq) || 1, dropped: Number(json.dropped) || 0 };
    } catch {
      return { nextSeq: 1, dropped: 0 };
    }
  };
  const writeMeta = (meta: Meta) => writeFileAtomic(metaPath, `${JSON.stringify(meta)}\n`, 0o600);
  const names = async (): Promise<string[]> => {
    try {
      return (await readdir(dir)).filter((name) => NAME_RE.test(name)).sort();
    } catch {
      return [];
    }
  };
  return {
    enqueue: (report) =>
      serial(async () => {
        const meta = await readMeta();
        const seq = meta.nextSeq;
        // The counter is durable before the report exists, so a sequence number is never reused.
        await writeMeta({ ...meta, nextSeq: seq + 1 });
        const envelope = encodeEnvelope(signEnvelope(REPORT_PAYLOAD_TYPE, encodeReport({ ...report, seq } as Report), [key]));
        await writeFileAtomic(join(dir, `${String(seq).padStart(16, '0')}.json`), envelope, 0o600);
        const queued = await names();
        const excess = queued.length - limit;
        if (excess > 0) {
          for (const name of queued.slice(0, excess)) await rm(join(dir, name), { force: true });
          await fsyncDirectory(dir);
          const after = await readMeta();
          await writeMeta({ ...after, dropped: after.dropped + excess });
          onEvent?.('report queue full; dropped oldest reports', { dropped: excess });
        }
        return seq;
      }),
    /**
     * Delivers in order without holding the queue's lock while a request is in flight, so a hung
     * controller never holds up enqueue (and with it a deployment step). One flush runs at a time;
     * a second caller joins it.
     */
    flush: (send) => {
      if (flushing !== null) return flushing;
      const run = async (): Promise<boolean> => {
        for (;;) {
          const name = (await serial(names))[0];
          if (name === undefined) return true;
          const path = join(dir, name);
          const envelope = await readFile(path, 'utf8').catch(() => null);
          if (envelope === null) continue; // dropped by a full queue meanwhile
          const delivery = await send(envelope);
          if (delivery.kind === 'unreachable') return false;
          if (delivery.kind === 'refused' && delivery.status !== 400 && delivery.status !== 413) {
            onEvent?.('report refused; kept for later', { status: delivery.status, error: delivery.error });
            return false;
          }
          if (delivery.kind === 'refused') onEvent?.('report refused as malformed; dropped', { status: delivery.status, error: delivery.error });
          await serial(async () => {
            await rm(path, { force: true });
            await fsyncDirectory(dir);
          });
        }
      };
      flushing = run().finally(() => {
        flushing = null;
      });
      return flushing;
    },
    list: () =>
      serial(async () => Promise.all((await names()).map((name) => readFile(join(dir, name), 'utf8')))),
    stats: () =>
      serial(async () => {
        const meta = await readMeta();
        return { queued: (await names()).length, dropped: meta.dropped, nextSeq: meta.nextSeq };
      }),
  };
}
