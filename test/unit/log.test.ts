// Log lines carry their syslog priority for journald, so `journalctl -p err` finds errors.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, syslogPriority } from '../../shared/log.js';

function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { stream, lines };
}

describe('log priorities', () => {
  it('maps pino levels to syslog priorities', () => {
    const table: Array<[number, number]> = [[10, 7], [20, 7], [30, 6], [40, 4], [50, 3], [60, 2]];
    for (const [level, priority] of table) assert.equal(syslogPriority(level), priority, String(level));
  });

  it('prefixes each line with its priority for journald, and leaves plain JSON otherwise', async () => {
    const journal = sink();
    const log = createLogger('t', 'debug', journal.stream, { journald: true });
    log.error('broke');
    log.info('fine');
    log.debug('detail');
    const plain = sink();
    createLogger('t', 'info', plain.stream).error('broke');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(journal.lines.map((line) => line.slice(0, 4)), ['<3>{', '<6>{', '<7>{']);
    assert.equal((JSON.parse(journal.lines[0]?.slice(3) ?? '{}') as { msg?: string }).msg, 'broke');
    assert.ok(plain.lines[0]?.startsWith('{'));
  });
});
