// `tsdeploy-agent verify-manifest` against what was last accepted: the same version with other content is
// a conflict (exit 3) when --last-digest says what that content was; the same content is "unchanged".
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { payloadDigest } from '../../shared/accept.js';
import { decodeEnvelope } from '../../shared/dsse.js';
import { generateKeyPair, writeKeyPair } from '../../shared/keys.js';
import { buildManifest, signManifest } from '../../shared/sign-manifest.js';
import { runProgram } from './run-cli.js';

const PATH_A = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1';
const PATH_B = '/nix/store/1d7q9yshkixydnik7y2rrm4x6s5bi4i0-nixos-system-web-1';

let work: string;
let publicKey: string;
let seven: string;
let sevenOther: string;
let digestOfSeven: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsdeploy-verify-manifest-'));
  const pair = generateKeyPair('release-1');
  publicKey = (await writeKeyPair(work, pair)).publicPath;
  const sign = async (name: string, storePath: string): Promise<string> => {
    const manifest = buildManifest({ host: 'web-1', storePath, version: 7, activation: 'switch', expiresInMs: 86_400_000, system: 'x86_64-linux', now: new Date() });
    const text = signManifest(manifest, [pair.secret]);
    await writeFile(join(work, name), text);
    return text;
  };
  const text = await sign('seven', PATH_A);
  await sign('seven-other', PATH_B);
  seven = join(work, 'seven');
  sevenOther = join(work, 'seven-other');
  digestOfSeven = payloadDigest(Buffer.from(decodeEnvelope(Buffer.from(text)).payload, 'base64'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const verify = (...args: string[]) => runProgram('tsdeploy-agent', ['verify-manifest', '--trusted-key', publicKey, '--host', 'web-1', ...args]);

describe('verify-manifest and the version last accepted', () => {
  it('accepts a newer version and prints its payload digest, for the next --last-digest', async () => {
    const run = await verify('--last-version', '6', seven);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { version: number }).version, 7);
    assert.equal(run.stderr, `accepted: version 7, payload sha256 ${digestOfSeven}\n`);
  });
  it('refuses the same version with other content as a conflict (exit 3) when --last-digest is given', async () => {
    const run = await verify('--last-version', '7', '--last-digest', digestOfSeven, sevenOther);
    assert.equal(run.code, 3);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'rejected: version conflict (version 7 was already accepted with other content)\n');
  });
  it('says "unchanged" for the same content, however the digest is spelled (upper case, sha256: prefix)', async () => {
    for (const digest of [digestOfSeven, digestOfSeven.toUpperCase(), `sha256:${digestOfSeven}`]) {
      const run = await verify('--last-version', '7', '--last-digest', digest, seven);
      assert.equal(run.code, 0, `${digest}: ${run.stderr}`);
      assert.match(run.stderr, /^unchanged: version 7 with the same content as last accepted/);
    }
  });
  it('without --last-digest does not claim "unchanged": it says the content was not compared', async () => {
    const run = await verify('--last-version', '7', sevenOther);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /^unchanged/);
    assert.match(run.stderr, /^version 7 is the version last accepted; its content was not compared: give --last-digest/);
  });
  it('refuses --last-digest without --last-version as a usage error', async () => {
    const run = await verify('--last-digest', digestOfSeven, seven);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'tsdeploy-agent: --last-digest needs --last-version: it is the digest of the version last accepted\n');
  });
  it('refuses a lower version as a rollback (exit 3)', async () => {
    const run = await verify('--last-version', '8', seven);
    assert.equal(run.code, 3);
    assert.equal(run.stderr, 'rejected: version rollback (7 < 8)\n');
  });
});
