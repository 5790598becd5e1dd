// The rollout in the crash test: started with held waves before the kills, driven by its own hosts' reports
// while the rest of the load goes on, and the check after each restart that its state file, its held
// manifests and its acknowledged reports survived whole.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createToken } from '../../controller/fleet/hosts-and-tokens.js';
import { RolloutSchema, type Rollout } from '../../controller/rollout/policy.js';
import type { ControllerStore } from '../../controller/storage/store.js';
import { generateKeyPair } from '../../shared/keys.js';
import { controllerStatePaths } from '../../shared/layout.js';
import { publicText, report, signedManifest, signedReport, storePath, type KeyPair } from './fixtures.js';

const HOSTS = Array.from({ length: 8 }, (_, i) => `r-${i}`);
/** Waves [r-0] [r-1 r-2] [r-3 r-4] [r-5 r-6] [r-7]; a real clock, so a short bake time. */
const POLICY = { canary: 1, waves: 2, bakeSeconds: 1, deadlineSeconds: 3600, maxUnhealthy: 0 };
/** This wave's hosts do not confirm until `finish`: the wave after it is held through every kill. */
const HELD_BACK_WAVE = 3;
const ID = 'crash-load';

export interface CrashHttp {
  post(url: string, body: string): Promise<number>;
  get(url: string): Promise<{ status: number; bytes: Buffer }>;
}

export interface CrashRollout {
  /** One loop per rollout host: a confirmation once its manifest is served (an idle report before), until `stopped`. */
  reporters(url: string, stopped: () => boolean, ack: () => void): Array<Promise<void>>;
  /** After a restart: the state file parses, the API serves a running rollout, no held manifest is lost or torn, no acknowledged report is missing. */
  check(url: string): Promise<{ released: number; held: number }>;
  /** Every host confirms; the rollout completes, every manifest served as signed, nothing left held. */
  finish(url: string): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const confirmation = (host: string, seq: number) =>
  report(host, seq, { manifestVersion: 1, outcome: 'success', phase: 'confirmed', desiredPath: storePath(1), currentSystem: storePath(1) });

/** Enrolls the rollout's hosts and starts it over HTTP (acknowledged by 201) before any kill. */
export async function startCrashRollout(stateDir: string, store: ControllerStore, http: CrashHttp, url: string): Promise<CrashRollout> {
  const paths = controllerStatePaths(stateDir);
  const keys = new Map<string, KeyPair>();
  for (const host of HOSTS) {
    const pair = generateKeyPair(`${host}-agent`);
    const { token } = await createToken(store, host, 3_600_000, new Date());
    assert.equal(await http.post(`${url}/v1/enroll`, JSON.stringify({ host, publicKey: publicText(pair), token })), 201);
    keys.set(host, pair);
  }
  const manifests = new Map(HOSTS.map((host) => [host, signedManifest(host, 1, storePath(1))]));
  assert.equal(await http.post(`${url}/v1/rollouts`, JSON.stringify({ id: ID, policy: POLICY, manifests: [...manifests.values()] })), 201);
  const rolloutOf = async (at: string): Promise<Rollout> => {
    const answer = await http.get(`${at}/v1/rollouts/current`);
    assert.equal(answer.status, 200, `GET /v1/rollouts/current answered ${answer.status}`);
    return RolloutSchema.parse((JSON.parse(answer.bytes.toString('utf8')) as { rollout: unknown }).rollout);
  };
  const waves = (await rolloutOf(url)).waves.map((wave) => wave.hosts);
  assert.deepEqual(waves.map((wave) => wave.length), [1, 2, 2, 2, 1]);
  const heldBack = new Set(waves[HELD_BACK_WAVE]);
  const keyOf = (host: string) => keys.get(host)?.secret ?? assert.fail(`no key for ${host}`);
  /** The last seq the controller holds per host (acknowledged, or the one in flight at a kill), and every acknowledged one. */
  const lastSeq = new Map(HOSTS.map((host) => [host, 0]));
  const ackedSeqs = new Map<string, number[]>(HOSTS.map((host) => [host, []]));
  let confirmingAll = false;

  const reporters: CrashRollout['reporters'] = (at, stopped, ack) =>
    HOSTS.map(async (host) => {
      for (let seq = (lastSeq.get(host) ?? 0) + 1; !stopped(); seq += 1) {
        const served = await http.get(`${at}/v1/hosts/${host}/manifest`).catch(() => null);
        if (served === null) return;
        const confirm = served.status === 200 && (confirmingAll || !heldBack.has(host));
        const status = await http.post(`${at}/v1/hosts/${host}/reports`, signedReport(keyOf(host), confirm ? confirmation(host, seq) : report(host, seq))).catch(() => null);
        if (status === null) return;
        assert.equal(status, 202, `${host} report ${seq}`);
        lastSeq.set(host, seq);
        ackedSeqs.get(host)?.push(seq);
        ack();
      }
    });

  return {
    reporters,

    async check(at) {
      const onDisk = RolloutSchema.safeParse(JSON.parse(await readFile(paths.rollout, 'utf8')));
      assert.ok(onDisk.success, `rollouts/current.json parses: ${onDisk.error?.message ?? ''}`);
      const rollout = await rolloutOf(at);
      assert.equal(rollout.state, 'running', `the rollout is ${rollout.state} (${rollout.reason ?? ''})`);
      assert.deepEqual(rollout.waves.map((wave) => wave.hosts), waves, 'the waves are those it started with');
      for (const dir of [paths.heldDir, paths.rolloutsDir]) {
        for (const name of await readdir(dir)) assert.ok(/^[^.].*\.json$/.test(name) || /^\..*\.tmp$/.test(name), `${dir}/${name}: a record or a temp file`);
      }
      let released = 0;
      let held = 0;
      for (const [index, wave] of rollout.waves.entries()) {
        for (const host of wave.hosts) {
          // Held first, served second: a release in between publishes before it removes the held file.
          const heldBytes = await readFile(paths.held(host)).catch(() => null);
          const served = await http.get(`${at}/v1/hosts/${host}/manifest`);
          const signed = manifests.get(host);
          if (heldBytes !== null) assert.equal(heldBytes.toString('utf8'), signed, `${host}: the held manifest is whole`);
          if (served.status === 200) assert.equal(served.bytes.toString('utf8'), signed, `${host}: the served manifest is the signed one`);
          else assert.equal(served.status, 404, `${host}: manifest answered ${served.status}`);
          assert.ok(served.status === 200 || heldBytes !== null, `${host}: its manifest is neither served nor held`);
          if (wave.releasedAt !== null) assert.equal(served.status, 200, `${host}: wave ${index} is recorded as released, so it is served`);
          if (index > HELD_BACK_WAVE) assert.equal(served.status, 404, `${host}: wave ${index} follows an unconfirmed wave and is never served`);
          if (served.status === 200) released += 1;
          else held += 1;
        }
      }
      for (const host of HOSTS) {
        const acked = ackedSeqs.get(host) ?? [];
        const lastAcked = acked.at(-1) ?? 0;
        const kept = (await store.readHostStatus(host))?.lastSeq ?? 0;
        assert.ok(kept === lastAcked || kept === lastAcked + 1, `${host}: status has seq ${kept}, acknowledged ${lastAcked}`);
        lastSeq.set(host, kept);
        const { entries, skipped } = await store.readReports(host);
        assert.equal(skipped, 0, `${host}: every log line parses`);
        const logged = new Set(entries.map((e) => (JSON.parse(Buffer.from(e.envelope.payload, 'base64').toString('utf8')) as { seq: number }).seq));
        for (const seq of acked) assert.ok(logged.has(seq), `${host}: acknowledged report ${seq} is in the log`);
      }
      return { released, held };
    },

    async finish(at) {
      confirmingAll = true;
      let stopped = false;
      const loops = reporters(at, () => stopped, () => undefined);
      try {
        for (let i = 0; i < 600 && (await rolloutOf(at)).state === 'running'; i += 1) await sleep(100);
      } finally {
        stopped = true;
        await Promise.all(loops);
      }
      const done = await rolloutOf(at);
      assert.equal(done.state, 'completed', `the rollout ended ${done.state} (${done.reason ?? ''})`);
      for (const host of HOSTS) {
        const served = await http.get(`${at}/v1/hosts/${host}/manifest`);
        assert.equal(served.bytes.toString('utf8'), manifests.get(host), `${host}: served as signed once the rollout completed`);
      }
      assert.deepEqual((await readdir(paths.heldDir)).filter((name) => name.endsWith('.json')), [], 'every held manifest was released');
      assert.ok(RolloutSchema.safeParse(JSON.parse(await readFile(paths.finishedRollout(ID), 'utf8'))).success, 'the ended rollout is kept, whole');
    },
  };
}
