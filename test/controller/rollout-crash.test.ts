// A rollout across SIGKILLs of a real controller process: 10 enrolled hosts sending signed reports over HTTP,
// canary 1 then waves of 3; killed between waves, restarted on the same state directory, it carries on.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createToken } from '../../controller/fleet/hosts-and-tokens.js';
import { RolloutSchema, type Rollout } from '../../controller/rollout/policy.js';
import { createFileStore } from '../../controller/storage/store.js';
import { generateKeyPair } from '../../shared/keys.js';
import { closeHttp, http, post, publicText, RELEASE, removeDir, report, signedManifest, signedReport, storePath, tempDir, type KeyPair } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOSTS = Array.from({ length: 10 }, (_, i) => `k-${i}`);
/** A real clock in a real process: a short bake time, ticks every second. */
const BAKE_SECONDS = 2;
const POLICY = { canary: 1, waves: 3, bakeSeconds: BAKE_SECONDS, deadlineSeconds: 3600, maxUnhealthy: 0 };

const children = new Set<ChildProcess>();

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

/** Starts `tsdeploy-controller serve` as a child process and reads its bound port from the first log line. */
async function startServer(configPath: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/main.ts', 'serve', '--config', configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await done()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for: ${what}`);
}

describe('a rollout survives SIGKILL of the controller between waves', () => {
  let stateDir: string;
  let configPath: string;
  const keys = new Map<string, KeyPair>();
  const seqs = new Map<string, number>();

  before(async () => {
    stateDir = await tempDir('rollout-crash');
    configPath = `${stateDir}.json`;
    await writeFile(configPath, JSON.stringify({ listen: '127.0.0.1:0', stateDir, trustedReleaseKeys: [publicText(RELEASE)], rolloutTickSeconds: 1 }));
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await closeHttp();
    await removeDir(stateDir);
    await removeDir(configPath);
  });

  const served = async (server: Server, host: string) => (await http(`${server.url}/v1/hosts/${host}/manifest`)).status;
  const rollout = async (server: Server): Promise<Rollout> => RolloutSchema.parse((await http(`${server.url}/v1/rollouts/current`)).json()['rollout']);
  const confirm = async (server: Server, host: string) => {
    const seq = (seqs.get(host) ?? 0) + 1;
    seqs.set(host, seq);
    const body = report(host, seq, { manifestVersion: 1, outcome: 'success', phase: 'confirmed', desiredPath: storePath(1), currentSystem: storePath(1) });
    const answer = await post(`${server.url}/v1/hosts/${host}/reports`, signedReport(keys.get(host)?.secret ?? assert.fail(`no key for ${host}`), body));
    assert.equal(answer.status, 202, answer.text);
  };
  /** Hosts whose manifest the controller serves, and those it still holds. */
  const releasedNow = async (server: Server) => {
    const out: string[] = [];
    for (const host of HOSTS) if ((await served(server, host)) === 200) out.push(host);
    return out;
  };
  const allServed = async (server: Server, hosts: readonly string[]) => {
    for (const host of hosts) if ((await served(server, host)) !== 200) return false;
    return true;
  };
  /** Waits past the bake time of every released wave plus two ticks: anything the controller would do, it has done. */
  const pastBake = async (server: Server) => {
    const latest = Math.max(...(await rollout(server)).waves.map((w) => (w.releasedAt === null ? 0 : Date.parse(w.releasedAt))));
    await sleep(Math.max(0, latest + BAKE_SECONDS * 1000 - Date.now()) + 2500);
  };

  it('holds unconfirmed waves across restarts and advances only after confirmed health and the bake time', async () => {
    let server = await startServer(configPath);
    const store = createFileStore(stateDir, { maxLogBytes: 1 << 20, keepRotated: 3 });
    for (const host of HOSTS) {
      const pair = generateKeyPair(`${host}-agent`);
      const { token } = await createToken(store, host, 3_600_000, new Date());
      assert.equal((await post(`${server.url}/v1/enroll`, JSON.stringify({ host, publicKey: publicText(pair), token }))).status, 201);
      keys.set(host, pair);
    }
    const manifests = HOSTS.map((host) => signedManifest(host, 1, storePath(1)));
    const started = await post(`${server.url}/v1/rollouts`, JSON.stringify({ id: 'crash-1', policy: POLICY, manifests }));
    assert.equal(started.status, 201, started.text);
    const waves = (await rollout(server)).waves.map((w) => w.hosts);
    assert.deepEqual(waves.map((w) => w.length), [1, 3, 3, 3]);
    const [canary, wave1, wave2, wave3] = waves as [string[], string[], string[], string[]];

    await until('the canary is released', async () => (await served(server, canary[0] ?? '')) === 200);
    await pastBake(server);
    assert.deepEqual(await releasedNow(server), canary, 'an unconfirmed canary holds every wave, however long it bakes');

    // Kill between the canary and wave 1: nothing is confirmed yet; the restart must not release wave 1.
    await kill9(server);
    server = await startServer(configPath);
    await pastBake(server);
    assert.deepEqual(await releasedNow(server), canary, 'after the restart wave 1 is still held');
    assert.equal((await rollout(server)).state, 'running');

    await confirm(server, canary[0] ?? '');
    await until('wave 1 is released once the canary is confirmed and baked', () => allServed(server, wave1));
    assert.deepEqual((await releasedNow(server)).sort(), [...canary, ...wave1].sort());

    // Two of three in wave 1 confirm, then the controller dies.
    await confirm(server, wave1[0] ?? '');
    await confirm(server, wave1[1] ?? '');
    await kill9(server);
    server = await startServer(configPath);
    await pastBake(server);
    assert.deepEqual((await releasedNow(server)).sort(), [...canary, ...wave1].sort(), 'wave 2 is held: one host of wave 1 has not confirmed');

    await confirm(server, wave1[2] ?? '');
    await until('wave 2 is released', () => allServed(server, wave2));
    for (const host of wave2) await confirm(server, host);
    // Killed right after the confirmations: the reports are durable, so the restart releases wave 3 on its own.
    await kill9(server);
    server = await startServer(configPath);
    await until('wave 3 is released after the restart', () => allServed(server, wave3));
    for (const host of wave3) await confirm(server, host);
    await until('the rollout completes', async () => (await rollout(server)).state === 'completed');

    const done = await rollout(server);
    for (const [i, wave] of done.waves.entries()) {
      assert.ok(wave.releasedAt !== null && wave.completedAt !== null, `wave ${i} released and completed`);
      assert.ok(Date.parse(wave.completedAt) - Date.parse(wave.releasedAt) >= BAKE_SECONDS * 1000, `wave ${i} baked before it completed`);
      const previous = done.waves[i - 1];
      if (previous !== undefined) assert.ok(Date.parse(wave.releasedAt) >= Date.parse(previous.completedAt ?? ''), `wave ${i} released after wave ${i - 1} completed`);
    }
    assert.deepEqual(await readdir(join(stateDir, 'held')), [], 'every held manifest was released');
    assert.deepEqual((await readdir(join(stateDir, 'rollouts'))).filter((name) => name.endsWith('.tmp')), [], 'no temp files left');
    await kill9(server);
  });
});
