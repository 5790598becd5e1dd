import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { countValidSignatures, pae, signEnvelope } from '../../shared/dsse.js';
import {
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  InsecureKeyFileError,
  InvalidKeyError,
  loadPublicKey,
  parsePublicKey,
  parseSecretKey,
  readSecretKeyFile,
  writeKeyPair,
} from '../../shared/keys.js';

describe('keys in Nix format', () => {
  it('round-trips a generated pair through name:base64', () => {
    const pair = generateKeyPair('cache-1');
    assert.deepEqual(parseSecretKey(formatSecretKey(pair.secret)).key, pair.secret.key);
    assert.deepEqual(parsePublicKey(formatPublicKey(pair.public)).key, pair.public.key);
    assert.match(formatPublicKey(pair.public), /^cache-1:[A-Za-z0-9+/]{43}=$/);
  });
  it('refuses a public key of the wrong length, a missing name and non-base64', () => {
    assert.throws(() => parsePublicKey('k:AAAA'), InvalidKeyError);
    assert.throws(() => parsePublicKey(':' + Buffer.alloc(32).toString('base64')), InvalidKeyError);
    assert.throws(() => parsePublicKey('k:!!!'), InvalidKeyError);
    assert.throws(() => parsePublicKey('no-colon'), InvalidKeyError);
  });
  it('refuses a secret key whose public half does not match its seed', () => {
    const a = generateKeyPair('a');
    const b = generateKeyPair('b');
    const mixed = Buffer.concat([a.secret.key.subarray(0, 32), b.secret.key.subarray(32)]);
    assert.throws(() => parseSecretKey(`a:${mixed.toString('base64')}`), /does not match the seed/);
  });
  it('writes the secret 0600 and the public 0644 and never overwrites', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-keys-'));
    const pair = generateKeyPair('release-1');
    const { secretPath, publicPath } = await writeKeyPair(dir, pair);
    assert.equal((await stat(secretPath)).mode & 0o777, 0o600);
    assert.equal((await stat(publicPath)).mode & 0o777, 0o644);
    assert.equal((await readSecretKeyFile(secretPath)).name, 'release-1');
    await assert.rejects(writeKeyPair(dir, pair), /refusing to overwrite/);
    assert.equal((await readFile(publicPath, 'utf8')).trim(), formatPublicKey(pair.public));
  });
  it('refuses a secret key file readable by group or others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-keys-'));
    const { secretPath } = await writeKeyPair(dir, generateKeyPair('k'));
    for (const mode of [0o640, 0o604, 0o644]) {
      await chmod(secretPath, mode);
      await assert.rejects(readSecretKeyFile(secretPath), InsecureKeyFileError);
    }
  });
  it('loads a trusted key given literally or as a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-keys-'));
    const pair = generateKeyPair('k');
    await writeFile(join(dir, 'k.pub'), formatPublicKey(pair.public));
    assert.deepEqual((await loadPublicKey(formatPublicKey(pair.public))).key, pair.public.key);
    assert.deepEqual((await loadPublicKey(join(dir, 'k.pub'))).key, pair.public.key);
    await assert.rejects(loadPublicKey(join(dir, 'missing.pub')), /cannot read key file/);
  });
});

describe('DSSE', () => {
  it('encodes PAE as the specification gives it', () => {
    assert.equal(Buffer.from(pae('t', Buffer.from('hello'))).toString(), 'DSSEv1 1 t 5 hello');
  });
  it('counts distinct valid trusted signers', () => {
    const a = generateKeyPair('a');
    const b = generateKeyPair('b');
    const env = signEnvelope('x/y', Buffer.from('{}'), [a.secret, b.secret]);
    assert.deepEqual(countValidSignatures(env, [a.public]), { count: 1, signers: ['a'] });
    assert.equal(countValidSignatures(env, [a.public, b.public]).count, 2);
    assert.equal(countValidSignatures(env, [generateKeyPair('c').public]).count, 0);
  });
});
