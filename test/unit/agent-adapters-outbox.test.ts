// The report queue against real files: sequence numbers, order, bounds, delivery outcomes.
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createOutbox } from '../../agent/adapters/outbox.js';
import { openEnvelope, parsePayload } from '../../shared/dsse.js';
import { generateKeyPair } from '../../shared/keys.js';
import { REPORT_PAYLOAD_TYPE, ReportSchema, type Report } from '../../shared/report.js';

function draft(phase: Report['phase']): Omit<Report, 'seq'> {
  return {
    host: 'web-1',
    time: new Date().toISOString(),
    kind: 'phase',
    manifestVersion: 1,
    desiredPath: null,
    phase,
    outcome: 'in-progress',
    currentSystem: null,
    bootedSystem: null,
    generation: null,
    health: [],
    error: null,
    facts: null,
  };
}

describe('report outbox', () => {
  const key = generateKeyPair('tsdeploy-agent-web-1');
  it('signs reports with growing sequence numbers and delivers them in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 10);
    for (const phase of ['accepted', 'realising', 'realised'] as const) await outbox.enqueue(draft(phase));
    const seen: Array<[number, string]> = [];
    const empty = await outbox.flush(async (envelope) => {
      const { payload } = openEnvelope(Buffer.from(envelope), REPORT_PAYLOAD_TYPE, [key.public], 1, 65536);
      const report = parsePayload(payload, ReportSchema);
      seen.push([report.seq, report.phase]);
      return { kind: 'accepted' };
    });
    assert.equal(empty, true);
    assert.deepEqual(seen, [[1, 'accepted'], [2, 'realising'], [3, 'realised']]);
    assert.equal((await outbox.stats()).queued, 0);
  });
  it('keeps reports while the controller is unreachable and never reuses a sequence number', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 10);
    await outbox.enqueue(draft('accepted'));
    assert.equal(await outbox.flush(async () => ({ kind: 'unreachable', error: 'ENETUNREACH' })), false);
    assert.equal((await outbox.stats()).queued, 1);
    const reopened = createOutbox(dir, key.secret, 10);
    assert.equal(await reopened.enqueue(draft('realising')), 2);
  });
  it('drops the oldest reports beyond the limit and counts them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 3);
    for (let i = 0; i < 5; i += 1) await outbox.enqueue(draft('idle'));
    const stats = await outbox.stats();
    assert.equal(stats.queued, 3);
    assert.equal(stats.dropped, 2);
    assert.deepEqual(await readdir(join(dir, 'outbox')), ['0000000000000003.json', '0000000000000004.json', '0000000000000005.json']);
  });
  it('drops a report the controller already has (409) and stops at a refusal it may later accept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-outbox-'));
    const outbox = createOutbox(dir, key.secret, 10);
    await outbox.enqueue(draft('accepted'));
    await outbox.enqueue(draft('realising'));
    let calls = 0;
    const empty = await outbox.flush(async () => {
      calls += 1;
      return calls === 1 ? { kind: 'duplicate' } : { kind: 'refused', status: 403, error: 'host not enrolled' };
    });
    assert.equal(empty, false);
    assert.equal((await outbox.stats()).queued, 1);
  });
});
