// The state directory's lock: the staleness rule as a table, and the lock itself on real files with real processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { acquireStateLock, lockPath, StateLockedError, whileHoldingStateLock } from '../../agent/adapters/state-lock.js';
import { lockIsStale, parseStartTime, type LockHolder, type LockSeen } from '../../agent/core/state-lock.js';
import { exitCodeFor } from '../../shared/errors.js';
import { generateKeyPair } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { createWorld, NEW } from './agent-fakes.js';

const HOLDER: LockHolder = { pid: 4242, startTime: '777', bootId: 'boot-a', command: 'run', since: '2026-11-22T12:00:00.000Z' };

describe('state lock: when a recorded holder is stale', () => {
  const cases: Array<[string, Partial<LockSeen>, boolean]> = [
    ['its process runs with the recorded start time, in the same boot', {}, false],
    ['its process is gone', { process: { running: false } }, true],
    ['its pid belongs to another process now (another start time)', { process: { running: true, startTime: '999' } }, true],
    ['it was taken in an earlier boot', { bootId: 'boot-b' }, true],
    ['the pid is this process (which takes the lock only once)', { ownPid: 4242 }, true],
    ['start time unknown: a running pid counts as the holder', { process: { running: true, startTime: null } }, false],
  ];
  for (const [what, override, stale] of cases) {
    it(`${stale ? 'stale' : 'held'} when ${what}`, () => {
      const seen: LockSeen = { process: { running: true, startTime: '777' }, bootId: 'boot-a', ownPid: 1, ...override };
      assert.equal(lockIsStale(HOLDER, seen), stale);
    });
  }
  it('reads the start time from /proc/PID/stat even when the command name has spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    assert.equal(parseStartTime(`123 (node (x) y) ${fields.join(' ')}`), '22');
    assert.equal(parseStartTime('garbage'), null);
  });
});

describe('state lock on real files', () => {
  it('refuses a second holder while the first one runs, naming its pid and command, with exit code 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-lock-'));
    // A live process of ours stands for a daemon that holds the lock.
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
      const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
      const holder: LockHolder = { pid: child.pid ?? 0, startTime: parseStartTime(stat), bootId, command: 'run', since: '2026-11-22T12:00:00.000Z' };
      await writeFile(lockPath(dir), `${JSON.stringify(holder)}\n`);
      const error = await acquireStateLock(dir, 'once').then(
        () => null,
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof StateLockedError, String(error));
      assert.equal(error.message, `another tsdeploy-agent holds ${lockPath(dir)}: pid ${child.pid} (run, since 2026-11-22T12:00:00.000Z); try again when it has finished`);
      assert.equal(exitCodeFor(error), 1);
      assert.equal(await readFile(lockPath(dir), 'utf8'), `${JSON.stringify(holder)}\n`, 'the holder keeps its lock');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // The holder is gone now: its lock is stale and taken over.
    const lock = await acquireStateLock(dir, 'once');
    const taken = JSON.parse(await readFile(lockPath(dir), 'utf8')) as LockHolder;
    assert.deepEqual([taken.pid, taken.command], [process.pid, 'once']);
    await lock.release();
    await assert.rejects(readFile(lockPath(dir)), { code: 'ENOENT' });
  });

  it('takes a free lock, and a second taker in the meantime is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-lock-'));
    const first = await acquireStateLock(dir, 'rollback');
    // Same process: the pid rule treats it as stale, so a real second process is needed to show the refusal.
    const script = `import('${new URL('../../agent/adapters/state-lock.ts', import.meta.url).pathname}').then((m) => m.acquireStateLock(process.argv[1], 'once')).then(() => process.exit(0), (e) => { process.stderr.write(e.message); process.exit(e.name === 'StateLockedError' ? 7 : 1); })`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 7, stderr);
    assert.match(stderr, new RegExp(`pid ${process.pid} \\(rollback, since `));
    await first.release();
  });
});

describe('state lock: the daemon waits for it', () => {
  it('runs once the other holder has let go, and tells who it waited for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-lock-'));
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
    const holder: LockHolder = { pid: child.pid ?? 0, startTime: parseStartTime(stat), bootId: null, command: 'rollback', since: '2026-11-22T12:00:00.000Z' };
    await writeFile(lockPath(dir), `${JSON.stringify(holder)}\n`);
    const waitedFor: LockHolder[] = [];
    let ran = false;
    const done = whileHoldingStateLock(dir, 'run', async () => {
      ran = true;
      return JSON.parse(await readFile(lockPath(dir), 'utf8')) as LockHolder;
    }, {
      retryMs: 20,
      onWait: (h) => {
        waitedFor.push(h);
        // Once the daemon is seen waiting, the operator's command ends.
        child.kill('SIGTERM');
      },
    });
    const inside = await done;
    await exited;
    assert.equal(ran, true);
    assert.deepEqual(waitedFor.map((h) => [h.pid, h.command]), [[child.pid, 'rollback']]);
    assert.deepEqual([inside.pid, inside.command], [process.pid, 'run']);
    await assert.rejects(readFile(lockPath(dir)), { code: 'ENOENT' }, 'released after');
  });
});

describe('driver: what runs holding the lock', () => {
  it('every journal write of a deployment and of a rollback happens holding it; waiting for a manifest and an idle poll do not', async () => {
    const world = createWorld();
    const release = generateKeyPair('release-9');
    const manifest = buildManifest({ host: 'web-1', storePath: NEW, version: 1, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date(world.now) });
    const bytes = Buffer.from(signManifest(manifest, [release.secret]));
    let holding = false;
    const seen = new Set<string>();
    let taken = 0;
    let unchanged = false;
    const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
      taken += 1;
      holding = true;
      try {
        return await fn();
      } finally {
        holding = false;
      }
    };
    const agent = world.agent(undefined, {
      exclusive,
      trustedKeys: [release.public],
      source: {
        kind: 'http',
        fetch: async () => {
          seen.add(`fetch holding=${holding}`);
          return unchanged ? { kind: 'unchanged' } : { kind: 'manifest', bytes, etag: '"1"' };
        },
        close: async () => undefined,
      },
      journal: {
        read: async () => world.journal,
        write: async (journal) => {
          seen.add(`write holding=${holding}`);
          world.journal = journal;
        },
      },
    });
    await agent.cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.equal((await agent.rollbackManually()).ok, true);
    assert.deepEqual([...seen].sort(), ['fetch holding=false', 'write holding=true']);
    unchanged = true;
    const before = taken;
    assert.equal((await agent.cycle(0)).kind, 'unchanged');
    assert.equal(taken, before, 'an idle poll takes no lock');
  });
});
