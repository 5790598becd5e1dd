import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { createToken } from '../../controller/fleet/hosts-and-tokens.js';
import { createFileStore } from '../../controller/storage/store.js';
import { acceptManifest } from '../../shared/accept.js';
import { generateKeyPair } from '../../shared/keys.js';
import { checkEnrollments, enrollers, type AckedEnrollment } from './crash-enroll.js';
import { startCrashRollout, type CrashHttp } from './crash-rollout.js';
import { publicText, RELEASE, removeDir, report, signedManifest, signedReport, storePath, tempDir, type KeyPair } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOSTS = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'];
/** Acknowledged writes to wait for before each SIGKILL: early, middle, and well into a busy run. */
const KILL_AFTER_ACKS = [5, 40, 120];

/** Every child started, so a failing test still leaves no controller running. */
const children = new Set<ChildProcess>();

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

/** Starts `tsdeploy-controller serve` as a real child process and reads its bound port from the log. */
async function startServer(configPath: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/main.ts', 'serve', '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`controller exited with ${String(code)} before listening`)));
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'listening' && typeof entry.port === 'number') resolve(entry.port);
    });
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function kill9(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGKILL');
  await exited;
}

describe('crash safety (SIGKILL of a real controller process)', () => {
  let stateDir: string;
  let configPath: string;
  const agents = new Map<string, KeyPair>();
  /** Highest acknowledged manifest version (and its bytes) and report seq per host. */
  const ackedManifest = new Map<string, { version: number; bytes: string }>();
  const ackedSeqs = new Map<string, number[]>();
  const ackedEnrollments: AckedEnrollment[] = [];
  const dispatcher = new Agent({ keepAliveTimeout: 1000 });

  before(async () => {
    stateDir = await tempDir('crash');
    configPath = join(stateDir, '..', `${stateDir.split('/').pop() ?? 'x'}.json`);
    await writeFile(
      configPath,
      JSON.stringify({ listen: '127.0.0.1:0', stateDir, trustedReleaseKeys: [publicText(RELEASE)], reports: { maxLogBytes: 16384, keepRotated: 50 }, rolloutTickSeconds: 1 }),
    );
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await dispatcher.close();
    await removeDir(stateDir);
    await removeDir(configPath);
  });

  const post = async (url: string, body: string) => {
    const response = await request(url, { dispatcher, method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await response.body.dump();
    return response.statusCode;
  };
  const get = async (url: string) => {
    const response = await request(url, { dispatcher });
    return { status: response.statusCode, bytes: Buffer.from(await response.body.arrayBuffer()) };
  };
  const http: CrashHttp = { post, get };

  /** What the restarted controller serves must be what was acknowledged, or the one write in flight after it. */
  let inFlightKept = 0;
  async function checkAfterRestart(url: string): Promise<Map<string, { version: number; seq: number }>> {
    const next = new Map<string, { version: number; seq: number }>();
    const store = createFileStore(stateDir, { maxLogBytes: 16384, keepRotated: 50 });
    for (const dir of ['manifests', 'status']) {
      const temps = (await readdir(join(stateDir, dir))).filter((name) => name.endsWith('.tmp'));
      assert.deepEqual(temps, [], `no temp files left in ${dir}/`);
    }
    await checkEnrollments(stateDir, store, ackedEnrollments);
    const statuses = new Map((await store.listHostStatuses()).map((record) => [record.host, record]));
    for (const host of HOSTS) {
      const response = await request(`${url}/v1/hosts/${host}/manifest`, { dispatcher });
      const acked = ackedManifest.get(host);
      let version = 0;
      if (response.statusCode === 404) {
        await response.body.dump();
      } else {
        assert.equal(response.statusCode, 200);
        const bytes = Buffer.from(await response.body.arrayBuffer());
        const result = acceptManifest({ bytes, trustedKeys: [RELEASE.public], threshold: 1, host, last: null, now: new Date() });
        version = result.manifest.version;
        const onDisk = await readFile(join(stateDir, 'manifests', `${host}.json`));
        assert.ok(onDisk.equals(bytes), `${host}: the file on disk is what is served`);
        if (acked !== undefined && version === acked.version) assert.equal(bytes.toString('utf8'), acked.bytes, `${host}: acknowledged bytes intact`);
      }
      const ackedVersion = acked?.version ?? 0;
      assert.ok(version === ackedVersion || version === ackedVersion + 1, `${host}: served v${version}, acknowledged v${ackedVersion}`);
      if (version === ackedVersion + 1) inFlightKept += 1;

      const seqs = ackedSeqs.get(host) ?? [];
      const lastAcked = seqs.length === 0 ? 0 : Math.max(...seqs);
      const lastSeq = statuses.get(host)?.lastSeq ?? 0;
      assert.ok(lastSeq === lastAcked || lastSeq === lastAcked + 1, `${host}: status has seq ${lastSeq}, acknowledged ${lastAcked}`);
      if (lastSeq === lastAcked + 1) inFlightKept += 1;
      const { entries, skipped } = await store.readReports(host);
      assert.equal(skipped, 0, `${host}: every log line parses`);
      const logged = new Set(entries.map((e) => (JSON.parse(Buffer.from(e.envelope.payload, 'base64').toString('utf8')) as { seq: number }).seq));
      for (const seq of seqs) assert.ok(logged.has(seq), `${host}: acknowledged report ${seq} is in the log`);
      next.set(host, { version, seq: lastSeq });
    }
    return next;
  }

  it('keeps every acknowledged publish, report, enrollment and rollout step, whole, across kill -9 and restart', async (t) => {
    let server = await startServer(configPath);
    const store = createFileStore(stateDir, { maxLogBytes: 16384, keepRotated: 50 });
    for (const host of HOSTS) {
      const pair = generateKeyPair(`${host}-agent`);
      const { token } = await createToken(store, host, 3_600_000, new Date());
      assert.equal(await post(`${server.url}/v1/enroll`, JSON.stringify({ host, publicKey: publicText(pair), token })), 201);
      agents.set(host, pair);
    }
    // A rollout with held waves runs through every round; its hosts' reports drive it under the same kills.
    const rollout = await startCrashRollout(stateDir, store, http, server.url);
    const rolloutAtKill: string[] = [];
    let position = new Map(HOSTS.map((host) => [host, { version: 0, seq: 0 }]));
    for (const [round, killAfter] of KILL_AFTER_ACKS.entries()) {
      let acks = 0;
      let stopped = false;
      let reachedTarget!: () => void;
      const target = new Promise<void>((resolve) => {
        reachedTarget = resolve;
      });
      const ack = () => {
        acks += 1;
        if (acks >= killAfter) reachedTarget();
      };
      const url = server.url;
      const loops = HOSTS.flatMap((host) => {
        const start = position.get(host) ?? { version: 0, seq: 0 };
        const publisher = async () => {
          for (let version = start.version + 1; !stopped; version += 1) {
            const bytes = signedManifest(host, version, storePath(version));
            const status: number | null = await post(`${url}/v1/manifests`, bytes).catch(() => null);
            if (status === null) return;
            assert.equal(status, 201, `${host} v${version}`);
            ackedManifest.set(host, { version, bytes });
            ack();
          }
        };
        const reporter = async () => {
          const pair = agents.get(host);
          assert.ok(pair !== undefined);
          for (let seq = start.seq + 1; !stopped; seq += 1) {
            const status: number | null = await post(`${url}/v1/hosts/${host}/reports`, signedReport(pair.secret, report(host, seq))).catch(() => null);
            if (status === null) return;
            assert.equal(status, 202, `${host} report ${seq}`);
            ackedSeqs.set(host, [...(ackedSeqs.get(host) ?? []), seq]);
            ack();
          }
        };
        return [publisher(), reporter()];
      });
      const enrolling = await enrollers(round, store, post, url, () => stopped, (enrollment) => {
        ackedEnrollments.push(enrollment);
        ack();
      });
      loops.push(...enrolling, ...rollout.reporters(url, () => stopped, () => undefined));
      await target;
      await kill9(server);
      stopped = true;
      await Promise.all(loops);
      server = await startServer(configPath);
      position = await checkAfterRestart(server.url);
      const { released, held } = await rollout.check(server.url);
      assert.ok(held > 0, 'a wave is still held at every kill');
      rolloutAtKill.push(`${released} served/${held} held`);
    }
    // The restarted controller goes on from exactly where it stands.
    for (const host of HOSTS) {
      const at = position.get(host) ?? { version: 0, seq: 0 };
      assert.equal(await post(`${server.url}/v1/manifests`, signedManifest(host, at.version + 1, storePath(at.version + 1))), 201);
      const pair = agents.get(host);
      assert.ok(pair !== undefined);
      assert.equal(await post(`${server.url}/v1/hosts/${host}/reports`, signedReport(pair.secret, report(host, at.seq + 1))), 202);
    }
    await rollout.finish(server.url);
    await kill9(server);
    t.diagnostic(`rollout hosts served/held after each kill: ${rolloutAtKill.join(', ')}`);
    t.diagnostic(`writes in flight at a kill that were kept (durable, not yet acknowledged): ${inFlightKept}`);
    t.diagnostic(`enrollments acknowledged across the kills: ${ackedEnrollments.length}`);
  });
});
