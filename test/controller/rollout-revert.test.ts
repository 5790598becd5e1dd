// `rollout abort --revert` against a real controller on loopback: the CLI signs, with the operator's release key,
// a publish that returns every host given the rollout's manifest to its previous path (version + 1).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RolloutSchema } from '../../controller/rollout/policy.js';
import { acceptManifest } from '../../shared/accept.js';
import { writeKeyPair } from '../../shared/keys.js';
import { runProgram } from '../cli/run-cli.js';
import { closeHttp, enrollWithToken, http, post, RELEASE, removeDir, report, signedManifest, signedReport, startController, storePath, tempDir, type KeyPair, type Running } from './fixtures.js';

const HOSTS = ['r-0', 'r-1', 'r-2', 'r-3', 'r-4'];
const OLD = storePath(1, 'nixos-system-old');
const NEW = storePath(2, 'nixos-system-new');

describe('rollout abort --revert', () => {
  let running: Running;
  let dir: string;
  let keyFile: string;
  const keys = new Map<string, KeyPair>();

  const servedManifest = async (host: string) => {
    const answer = await http(`${running.url}/v1/hosts/${host}/manifest`);
    assert.equal(answer.status, 200, host);
    return acceptManifest({ bytes: Buffer.from(answer.text), trustedKeys: [RELEASE.public], threshold: 1, host, last: null, now: new Date() }).manifest;
  };
  const rollout = async () => RolloutSchema.parse((await http(`${running.url}/v1/rollouts/current`)).json()['rollout']);

  before(async () => {
    dir = await tempDir('revert');
    keyFile = (await writeKeyPair(dir, RELEASE)).secretPath;
    running = await startController({ config: { rolloutTickSeconds: 1 } });
    for (const host of HOSTS) {
      keys.set(host, await enrollWithToken(running, host));
      assert.equal((await post(`${running.url}/v1/manifests`, signedManifest(host, 1, OLD))).status, 201);
    }
    const manifests = HOSTS.map((host) => signedManifest(host, 2, NEW));
    const started = await post(`${running.url}/v1/rollouts`, JSON.stringify({ id: 'bad-1', policy: { canary: 1, waves: 2, bakeSeconds: 0 }, manifests }));
    assert.equal(started.status, 201, started.text);
    const body = report('r-0', 1, { manifestVersion: 2, phase: 'confirmed', outcome: 'success', currentSystem: NEW });
    assert.equal((await post(`${running.url}/v1/hosts/r-0/reports`, signedReport(keys.get('r-0')?.secret ?? assert.fail(), body))).status, 202);
    for (let i = 0; i < 100 && (await rollout()).waves[1]?.releasedAt === null; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await servedManifest('r-2')).version, 2, 'wave 1 (r-1, r-2) is out');
  });
  after(async () => {
    await running?.stop();
    await closeHttp();
    await removeDir(dir);
    await removeDir(running.stateDir);
  });

  const args = () => ['rollout', 'abort', '--revert', '--state-dir', running.stateDir, '--controller', running.url, '--key', keyFile, '--state', join(dir, 'versions.json')];

  it('shows the plan and changes nothing off a terminal without --yes (exit 2)', async () => {
    const run = await runProgram('tsdeploy-controller', args());
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /pass --yes/);
    assert.match(run.stdout, new RegExp(`r-1: v2 ${NEW} -> v3 ${OLD}`));
    assert.equal((await rollout()).state, 'running');
    assert.equal((await servedManifest('r-1')).version, 2);
  });

  it('with --yes aborts, then publishes each updated host\'s previous path as version + 1, signed by the release key', async () => {
    const run = await runProgram('tsdeploy-controller', [...args(), '--yes']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await rollout()).state, 'aborted');
    for (const host of ['r-0', 'r-1', 'r-2']) {
      const manifest = await servedManifest(host);
      assert.deepEqual([manifest.version, manifest.storePath], [3, OLD], `${host} goes back`);
      assert.match(run.stdout, new RegExp(`${host}: 2 -> 3 ${OLD}`));
    }
    for (const host of ['r-3', 'r-4']) {
      const manifest = await servedManifest(host);
      assert.deepEqual([manifest.version, manifest.storePath], [1, OLD], `${host} never got the rollout and is left alone`);
    }
  });
});
