import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { countValidSignatures, pae, signEnvelope } from '../../shared/dsse.js';
import { exitCodeFor } from '../../shared/errors.js';
import {
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  isCanonicalSignature,
  InsecureKeyFileError,
  InvalidKeyError,
  loadPublicKey,
  parsePublicKey,
  parseSecretKey,
  PublicKeyGivenError,
  signBytes,
  verifyBytes,
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
  it('names a public key given where the secret key belongs, instead of asking for chmod', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-keys-'));
    const { publicPath } = await writeKeyPair(dir, generateKeyPair('k'));
    await assert.rejects(readSecretKeyFile(publicPath), (error: unknown) => {
      assert.ok(error instanceof PublicKeyGivenError);
      assert.match(error.message, /is a public key, not a secret key: give the secret key file/);
      assert.doesNotMatch(error.message, /chmod/);
      assert.equal(exitCodeFor(error), 2);
      return true;
    });
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

/** S + L: the same signature with a non-canonical scalar, which pure ed25519 code often still accepts. */
function withNonCanonicalS(signature: Uint8Array): Uint8Array {
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i -= 1) s = (s << 8n) | BigInt(signature[i] ?? 0);
  s += L;
  const out = new Uint8Array(signature);
  for (let i = 32; i < 64; i += 1) {
    out[i] = Number(s & 255n);
    s >>= 8n;
  }
  return out;
}

describe('ed25519 on node:crypto, cross-checked against tweetnacl', () => {
  it('matches RFC 8032 test vector 1', () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const pub = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    const secret = parseSecretKey(`rfc:${Buffer.concat([seed, pub]).toString('base64')}`);
    const expected =
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
    assert.equal(Buffer.from(signBytes(secret, new Uint8Array())).toString('hex'), expected);
    assert.equal(verifyBytes({ name: 'rfc', key: pub }, new Uint8Array(), Buffer.from(expected, 'hex')), true);
  });

  it('makes the same signatures as tweetnacl, byte for byte, and both verify them', () => {
    for (let i = 0; i < 40; i += 1) {
      const pair = generateKeyPair(`k${i}`);
      const message = new Uint8Array(Buffer.from(`message ${i} ${'x'.repeat(i * 7)}`));
      const ours = signBytes(pair.secret, message);
      const theirs = nacl.sign.detached(message, pair.secret.key);
      assert.deepEqual(ours, theirs);
      assert.equal(nacl.sign.detached.verify(message, ours, pair.public.key), true);
      assert.equal(verifyBytes(pair.public, message, theirs), true);
      // tweetnacl derives the same public key from our seed
      assert.deepEqual(nacl.sign.keyPair.fromSeed(pair.secret.key.subarray(0, 32)).publicKey, pair.public.key);
    }
  });

  it('agrees with tweetnacl (plus the canonical-S rule) on altered, truncated and non-canonical signatures', () => {
    const pair = generateKeyPair('k');
    const other = generateKeyPair('o');
    const message = new Uint8Array(Buffer.from('the signed bytes'));
    const good = signBytes(pair.secret, message);
    const vectors: [string, Uint8Array, Uint8Array, Uint8Array][] = [
      ['good', good, message, pair.public.key],
      ['other key', good, message, other.public.key],
      ['other message', good, new Uint8Array(Buffer.from('the signed bytez')), pair.public.key],
      ['empty signature', new Uint8Array(), message, pair.public.key],
      ['truncated', good.subarray(0, 63), message, pair.public.key],
      ['too long', new Uint8Array([...good, 0]), message, pair.public.key],
      ['all zero', new Uint8Array(64), message, pair.public.key],
      ['S + L', withNonCanonicalS(good), message, pair.public.key],
    ];
    for (let bit = 0; bit < 512; bit += 37) {
      const flipped = new Uint8Array(good);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      vectors.push([`bit ${bit} flipped`, flipped, message, pair.public.key]);
    }
    for (const [what, signature, bytes, key] of vectors) {
      const oracle = signature.length === 64 && isCanonicalSignature(signature) && nacl.sign.detached.verify(bytes, signature, key);
      assert.equal(verifyBytes({ name: 'k', key }, bytes, signature), oracle, what);
    }
    // The one place where the canonical-S rule matters: tweetnacl alone takes the twin signature.
    assert.equal(nacl.sign.detached.verify(message, withNonCanonicalS(good), pair.public.key), true);
    assert.equal(verifyBytes(pair.public, message, withNonCanonicalS(good)), false);
  });
});
