// `publish --policy FILE`: a warning on stderr (exit unchanged) when the manifests will expire before the rollout's waves × bake time.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeKeyPair } from '../../shared/keys.js';
import { runProgram } from '../cli/run-cli.js';
import { closeHttp, RELEASE, removeDir, startController, storePath, tempDir, type Running } from './fixtures.js';

describe('publish warns when manifests expire before a rollout can finish', () => {
  let running: Running;
  let dir: string;
  let base: string[];

  before(async () => {
    dir = await tempDir('publish-expiry');
    running = await startController();
    const keyFile = (await writeKeyPair(dir, RELEASE)).secretPath;
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ canary: 1, waves: 1, bakeSeconds: 1800, deadlineSeconds: 1800 }));
    await writeFile(join(dir, 'release.json'), JSON.stringify({ hosts: { 'e-1': storePath(1), 'e-2': storePath(1), 'e-3': storePath(1) } }));
    base = ['publish', '--controller', running.url, '--key', keyFile, '--state', join(dir, 'v.json'), '--release', join(dir, 'release.json'), '--policy', join(dir, 'policy.json'), '--force'];
  });
  after(async () => {
    await running?.stop();
    await closeHttp();
    await removeDir(dir);
  });

  it('warns on stderr and still publishes (exit 0) when 3 waves × 1 h outlast a 2 h expiry', async () => {
    const run = await runProgram('tsdeploy-controller', [...base, '--expires-in', '2h']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /warning: the manifests expire in 2 h, but the rollout's 3 waves × \(1800 s deadline \+ 1800 s bake\) may take 3 h/);
    assert.match(run.stdout, /e-3: .* -> /);
  });

  it('says nothing when the expiry outlasts the rollout', async () => {
    const run = await runProgram('tsdeploy-controller', [...base, '--expires-in', '4h']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /expire/);
  });
});
