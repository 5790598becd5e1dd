import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { approvedRecord, revokedRecord, AdminError, RevokedKeyError } from '../../controller/fleet/hosts-and-tokens.js';
import { exitCodeFor } from '../../shared/errors.js';
import { acquireFileLock, LockBusyError } from '../../controller/storage/file-lock.js';
import { createKeyedMutex } from '../../controller/storage/mutex.js';
import { HostRecordSchema, type HostRecord, type ReportLogEntry } from '../../controller/storage/records.js';
import { createFileStore } from '../../controller/storage/store.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdeploy-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (n: number): ReportLogEntry => ({
  receivedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  envelope: { payloadType: 'application/vnd.tsdeploy.report.v1+json', payload: Buffer.from(`{"n":${n},"pad":"${'x'.repeat(200)}"}`).toString('base64'), signatures: [{ sig: 'AAAA' }] },
});

describe('report logs', () => {
  it('rotates by size and keeps only keepRotated old logs, oldest entries dropped first', async () => {
    const stateDir = join(dir, 'rotate');
    const store = createFileStore(stateDir, { maxLogBytes: 4096, keepRotated: 2 });
    for (let n = 0; n < 60; n += 1) await store.appendReport('web-1', entry(n));
    const names = (await readdir(join(stateDir, 'reports'))).sort();
    assert.deepEqual(names, ['web-1.log', 'web-1.log.1', 'web-1.log.2']);
    for (const name of names) assert.ok((await stat(join(stateDir, 'reports', name))).size <= 4096, name);
    const { entries, skipped } = await store.readReports('web-1');
    assert.equal(skipped, 0);
    const ns = entries.map((e) => JSON.parse(Buffer.from(e.envelope.payload, 'base64').toString()).n as number);
    assert.equal(ns[ns.length - 1], 59);
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b), 'oldest first, in order');
    assert.ok(ns[0] !== undefined && ns[0] > 0, 'the oldest entries were rotated away');
  });
  it('skips a torn last line and counts it', async () => {
    const stateDir = join(dir, 'torn');
    const store = createFileStore(stateDir, { maxLogBytes: 1024 * 1024, keepRotated: 1 });
    await store.appendReport('web-1', entry(1));
    await appendFile(join(stateDir, 'reports', 'web-1.log'), '{"receivedAt":"2026-01-01T00:00:02.000Z","envel');
    const { entries, skipped } = await store.readReports('web-1');
    assert.equal(entries.length, 1);
    assert.equal(skipped, 1);
  });
});

describe('state files', () => {
  it('reads back exactly the manifest bytes written', async () => {
    const store = createFileStore(join(dir, 'bytes'), { maxLogBytes: 4096, keepRotated: 1 });
    const bytes = new Uint8Array(Buffer.from('{"payloadType":"x"}\n  trailing  \n'));
    await store.writeManifest('web-1', bytes);
    assert.deepEqual(await store.readManifest('web-1'), bytes);
    assert.deepEqual((await store.listManifests()).map((m) => m.host), ['web-1']);
  });
  it('refuses a host name that could escape its directory', async () => {
    const store = createFileStore(join(dir, 'escape'), { maxLogBytes: 4096, keepRotated: 1 });
    await assert.rejects(store.readManifest('../etc'), /not a host name/);
  });
  it('removes temp files of interrupted writes: all in server-only directories, only old ones elsewhere', async () => {
    const stateDir = join(dir, 'leftovers');
    const store = createFileStore(stateDir, { maxLogBytes: 4096, keepRotated: 1 });
    await store.ensureLayout();
    await writeFile(join(stateDir, 'manifests', '.web-1.json.abcdef.tmp'), '{"torn');
    await writeFile(join(stateDir, 'hosts', '.web-1.json.fresh.tmp'), '{');
    await writeFile(join(stateDir, 'hosts', '.web-2.json.old.tmp'), '{');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(join(stateDir, 'hosts', '.web-2.json.old.tmp'), old, old);
    assert.equal(await store.removeLeftovers(), 2);
    assert.deepEqual(await readdir(join(stateDir, 'manifests')), []);
    assert.deepEqual(await readdir(join(stateDir, 'hosts')), ['.web-1.json.fresh.tmp']);
  });
  it("removes a lock's temp file left by a dead process, not one of a live process", async () => {
    const stateDir = join(dir, 'lock-leftovers');
    const store = createFileStore(stateDir, { maxLogBytes: 4096, keepRotated: 1 });
    await store.ensureLayout();
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
    await writeFile(join(stateDir, 'locks', `web-1.lock.${dead}.abcdef12`), `${dead}\n`);
    await writeFile(join(stateDir, 'locks', `web-2.lock.${process.pid}.abcdef12`), `${process.pid}\n`);
    assert.equal(await store.removeLeftovers(), 1);
    assert.deepEqual(await readdir(join(stateDir, 'locks')), [`web-2.lock.${process.pid}.abcdef12`]);
  });
});

describe('lock files', () => {
  it('refuses a second holder while the first is alive, and lets it in after release', async () => {
    const path = join(dir, 'locks', 'a.lock');
    const release = await acquireFileLock(path, 0);
    await assert.rejects(acquireFileLock(path, 0), LockBusyError);
    await release();
    const again = await acquireFileLock(path, 0);
    await again();
  });
  it('breaks a lock whose holder process is dead (kill -9 leaves it behind)', async () => {
    const path = join(dir, 'locks', 'b.lock');
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    await mkdir(join(dir, 'locks'), { recursive: true });
    await writeFile(path, `${child.stdout.toString()}\n`);
    const release = await acquireFileLock(path, 0);
    await release();
  });
  it('serialises holders of one key and runs different keys side by side', async () => {
    const mutex = createKeyedMutex();
    const order: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const first = mutex.run('a', async () => {
      order.push('a1 start');
      await gate;
      order.push('a1 end');
    });
    const second = mutex.run('a', async () => {
      order.push('a2');
    });
    await mutex.run('b', async () => {
      order.push('b');
    });
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['a1 start', 'b', 'a1 end', 'a2']);
    assert.equal(mutex.size(), 0);
  });
});

describe('hosts approve and revoke', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const key = formatPublicKey(generateKeyPair('agent').public);
  const other = formatPublicKey(generateKeyPair('other').public);
  const pending: HostRecord = { host: 'web-1', status: 'pending', publicKey: key, requestedAt: now.toISOString(), enrolledAt: null, enrolledVia: null, revokedAt: null, revokedKeys: [] };

  it('approves a pending key', () => {
    const record = approvedRecord(pending, 'web-1', undefined, now);
    assert.equal(record.status, 'enrolled');
    assert.equal(record.enrolledVia, 'approval');
  });
  it('approves only the key named with --key', () => {
    assert.throws(() => approvedRecord(pending, 'web-1', other, now), AdminError);
    assert.equal(approvedRecord(pending, 'web-1', key, now).status, 'enrolled');
  });
  it('refuses an unknown host without --key and a revoked one; enrolls a key carried over with --key', () => {
    assert.throws(() => approvedRecord(null, 'web-1', undefined, now), /no enrollment request/);
    const carried = approvedRecord(null, 'web-1', key, now);
    assert.deepEqual([carried.status, carried.publicKey, carried.enrolledVia], ['enrolled', key, 'approval']);
    assert.throws(() => approvedRecord(null, 'web-1', 'not-a-key', now), /--key is not a public key/);
    assert.throws(() => approvedRecord(revokedRecord(pending, 'web-1', now), 'web-1', undefined, now), /revoked/);
  });
  it('revokes a key for good', () => {
    const record = revokedRecord(approvedRecord(pending, 'web-1', undefined, now), 'web-1', now);
    assert.equal(record.status, 'revoked');
    assert.deepEqual(record.revokedKeys, [key]);
    assert.equal(revokedRecord(record, 'web-1', now), record, 'revoking again changes nothing');
  });
  it('re-enrolls a revoked host with a new key given with --force, and records each step in its history', () => {
    const later = new Date('2026-02-01T00:00:00Z');
    const revoked = revokedRecord(approvedRecord(null, 'web-1', key, now), 'web-1', now);
    assert.throws(() => approvedRecord(revoked, 'web-1', other, later), /web-1 is revoked; .*hosts approve web-1 --key NAME:BASE64 --force/);
    const record = approvedRecord(revoked, 'web-1', other, later, { force: true });
    assert.deepEqual([record.status, record.publicKey, record.enrolledAt, record.revokedKeys], ['enrolled', other, later.toISOString(), [key]]);
    assert.deepEqual(
      record.history?.map((event) => [event.event, event.publicKey, event.via]),
      [
        ['approved', key, 'hosts approve --key'],
        ['revoked', key, 'hosts revoke'],
        ['re-enrolled', other, 'hosts approve --key --force'],
      ],
    );
    assert.equal(HostRecordSchema.safeParse(record).success, true);
  });
  it('refuses to re-enroll a key that was revoked for the host, even with --force (exit 3)', () => {
    const revoked = revokedRecord(approvedRecord(null, 'web-1', key, now), 'web-1', now);
    assert.throws(
      () => approvedRecord(revoked, 'web-1', key, now, { force: true }),
      (error: unknown) => error instanceof RevokedKeyError && exitCodeFor(error) === 3 && /can never enroll again: make a new key on the host/.test(error.message),
    );
  });
});
