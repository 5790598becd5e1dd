// `check-config` of both programs lists every problem at once: the ones between fields with the per-field ones.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';
import { runProgram } from './run-cli.js';

let work: string;
const key = formatPublicKey(generateKeyPair('release-1').public);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsdeploy-check-config-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('check-config', () => {
  it('tsdeploy-agent lists a threshold above the keys, a bad cron and a controller check on file:// with a bad field', async () => {
    const file = join(work, 'agent.json');
    await writeFile(
      file,
      JSON.stringify({
        host: 'web-1',
        source: 'file:///srv/tsdeploy',
        trustedKeys: [key],
        threshold: 2,
        poll: { cron: 'every now and then' },
        health: { checks: [{ type: 'controller' }] },
        logLevel: 'loud',
      }),
    );
    const run = await runProgram('tsdeploy-agent', ['check-config', file]);
    assert.equal(run.code, 1);
    const problems = run.stderr.split('\n').filter((line) => line.startsWith('  - '));
    assert.equal(run.stderr.split('\n')[0], `${file}: invalid config`);
    assert.equal(problems.length, 4, run.stderr);
    assert.ok(problems.some((line) => /^ {2}- logLevel: /.test(line)), 'the per-field problem');
    assert.ok(problems.some((line) => /threshold 2 is more than the 1 distinct trusted keys/.test(line)));
    assert.ok(problems.some((line) => /not a valid cron expression: "every now and then"/.test(line)));
    assert.ok(problems.some((line) => /a "controller" check needs an http\(s\) source/.test(line)));
  });

  it('tsdeploy-agent names activationWindow.schedule in one line for a bad cron expression', async () => {
    const file = join(work, 'agent-window.json');
    await writeFile(file, JSON.stringify({ host: 'web-1', source: 'http://10.0.0.1:8080', trustedKeys: [key], activationWindow: { schedule: '61 * * * *', duration: '1h' } }));
    const run = await runProgram('tsdeploy-agent', ['check-config', file]);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderr.split('\n').filter((line) => line.startsWith('  - ')), ['  - activationWindow.schedule: not a cron expression the window can follow: "61 * * * *" (L and # are not supported)']);
  });

  it('tsdeploy-controller lists a release threshold above the keys and short request timeouts with bad fields', async () => {
    const file = join(work, 'controller.json');
    await writeFile(
      file,
      JSON.stringify({
        trustedReleaseKeys: [key],
        releaseThreshold: 3,
        limits: { headersTimeoutSeconds: 20, requestTimeoutSeconds: 10 },
        listen: 'everywhere',
        logLevel: 'loud',
      }),
    );
    const run = await runProgram('tsdeploy-controller', ['check-config', file]);
    assert.equal(run.code, 1);
    const problems = run.stderr.split('\n').filter((line) => line.startsWith('  - '));
    assert.equal(problems.length, 4, run.stderr);
    assert.ok(problems.some((line) => /^ {2}- listen: must be HOST:PORT/.test(line)), 'a per-field problem');
    assert.ok(problems.some((line) => /^ {2}- logLevel: /.test(line)), 'a per-field problem that stops zod early');
    assert.ok(problems.some((line) => /releaseThreshold 3 is more than the 1 distinct trusted release keys/.test(line)));
    assert.ok(problems.some((line) => /limits\.requestTimeoutSeconds: must not be shorter than headersTimeoutSeconds/.test(line)));
  });
});
