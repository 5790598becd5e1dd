// Ed25519 keys in Nix's "name:base64" format, so one keygen serves manifests and `nix store sign`.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OperatorError, UserError } from './errors.js';
import { pathExists, writeFileAtomic } from './files.js';

export interface PublicKey {
  readonly name: string;
  /** 32 bytes. */
  readonly key: Uint8Array;
}

export interface SecretKey {
  readonly name: string;
  /** 64 bytes: seed, then public key (libsodium's and Nix's layout). */
  readonly key: Uint8Array;
}

export class InvalidKeyError extends UserError {
  override name = 'InvalidKeyError' as const;
}

export class InsecureKeyFileError extends UserError {
  override name = 'InsecureKeyFileError' as const;
  constructor(readonly path: string, readonly mode: number) {
    super(
      `secret key ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
    );
  }
}

/** A public key given where a secret key file belongs (`--key keys/NAME.public`): a command-line mistake, exit 2. */
export class PublicKeyGivenError extends OperatorError {
  override name = 'PublicKeyGivenError' as const;
  constructor(readonly path: string) {
    super(`${path} is a public key, not a secret key: give the secret key file (NAME.secret) made beside it`);
  }
}

const PUBLIC_KEY_BYTES = 32;
const SECRET_KEY_BYTES = 64;
const SIGNATURE_BYTES = 64;

// Raw ed25519 keys inside the fixed DER wrappers node:crypto takes (RFC 8410): the prefix, then 32 bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The group order L: a signature's S must be below it (RFC 8032 §5.1.7), so no signature has a twin. */
const ORDER_L = (1n << 252n) + 27742317777372353535851937790883648493n;

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(key: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: 'der', type: 'spki' });
}

function rawPublicKey(object: KeyObject): Uint8Array {
  return new Uint8Array(object.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

// Parsed KeyObjects, cached by the key bytes' identity: a controller checks thousands of reports per key.
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
const publicKeys = new WeakMap<Uint8Array, KeyObject | null>();

/** True when S (the signature's second half, little-endian) is below the group order. */
export function isCanonicalSignature(signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  let s = 0n;
  for (let i = SIGNATURE_BYTES - 1; i >= 32; i -= 1) s = (s << 8n) | BigInt(signature[i] ?? 0);
  return s < ORDER_L;
}

const KEY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** True for a key name Nix and tsdeploy take: a letter or digit, then letters, digits, ".", "_", "+" or "-" (≤ 128). */
export function isKeyName(name: string): boolean {
  return KEY_NAME_RE.test(name);
}

function decodeKey(text: string, bytes: number, what: string): { name: string; key: Uint8Array } {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  if (colon <= 0) throw new InvalidKeyError(`malformed ${what}: expected "name:base64"`);
  const name = trimmed.slice(0, colon);
  const data = trimmed.slice(colon + 1);
  if (!KEY_NAME_RE.test(name)) throw new InvalidKeyError(`malformed ${what}: invalid key name "${name}"`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw new InvalidKeyError(`malformed ${what} "${name}": not base64`);
  const key = new Uint8Array(Buffer.from(data, 'base64'));
  if (key.length !== bytes) {
    throw new InvalidKeyError(`malformed ${what} "${name}": ${key.length} bytes, expected ${bytes}`);
  }
  return { name, key };
}

/** Parses a public key as written by Nix or by `keygen`. */
export function parsePublicKey(text: string): PublicKey {
  return decodeKey(text, PUBLIC_KEY_BYTES, 'public key');
}

/** Parsed public keys by their text, so the KeyObject cache (by key bytes' identity) hits across calls. */
const parsedPublicKeys = new Map<string, PublicKey>();
const PARSED_PUBLIC_KEYS_MAX = 65_536;

/**
 * `parsePublicKey` for a key checked again and again (a host's enrolled key, on every report): the same
 * PublicKey object each time, so its parsed KeyObject is reused instead of being rebuilt per signature.
 */
export function parsePublicKeyCached(text: string): PublicKey {
  const cached = parsedPublicKeys.get(text);
  if (cached !== undefined) return cached;
  const parsed = parsePublicKey(text);
  if (parsedPublicKeys.size >= PARSED_PUBLIC_KEYS_MAX) parsedPublicKeys.clear();
  parsedPublicKeys.set(text, parsed);
  return parsed;
}

/** Parses a secret key and checks that its public half belongs to its seed. */
export function parseSecretKey(text: string): SecretKey {
  const { name, key } = decodeKey(text, SECRET_KEY_BYTES, 'secret key');
  const derived = rawPublicKey(createPublicKey(privateKeyObject(key.subarray(0, 32))));
  if (!Buffer.from(derived).equals(Buffer.from(key.subarray(32)))) {
    throw new InvalidKeyError(`malformed secret key "${name}": public half does not match the seed`);
  }
  return { name, key };
}

export function formatPublicKey(key: PublicKey): string {
  return `${key.name}:${Buffer.from(key.key).toString('base64')}`;
}

export function formatSecretKey(key: SecretKey): string {
  return `${key.name}:${Buffer.from(key.key).toString('base64')}`;
}

export function publicKeyOf(secret: SecretKey): PublicKey {
  return { name: secret.name, key: secret.key.slice(32) };
}

/** A new key pair; `name` is what Nix shows as the signer (for example "cache.example.org-1"). */
export function generateKeyPair(name: string): { secret: SecretKey; public: PublicKey } {
  if (!KEY_NAME_RE.test(name)) {
    throw new InvalidKeyError(`invalid key name "${name}": use letters, digits, ".", "_", "+" or "-"`);
  }
  const pair = generateKeyPairSync('ed25519');
  const seed = pair.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  const secret = { name, key: new Uint8Array(Buffer.concat([seed, rawPublicKey(pair.publicKey)])) };
  return { secret, public: publicKeyOf(secret) };
}

/** An ed25519 signature (node:crypto, about 100× faster than pure JavaScript). */
export function signBytes(secret: SecretKey, bytes: Uint8Array): Uint8Array {
  let object = privateKeys.get(secret.key);
  if (object === undefined) {
    object = privateKeyObject(secret.key.subarray(0, 32));
    privateKeys.set(secret.key, object);
  }
  return new Uint8Array(sign(null, bytes, object));
}

/** Strict RFC 8032 verification: a 64-byte signature with a canonical S, over exactly these bytes. */
export function verifyBytes(key: PublicKey, bytes: Uint8Array, signature: Uint8Array): boolean {
  if (!isCanonicalSignature(signature)) return false;
  let object = publicKeys.get(key.key);
  if (object === undefined) {
    try {
      object = publicKeyObject(key.key);
    } catch {
      object = null;
    }
    publicKeys.set(key.key, object);
  }
  if (object === null) return false;
  try {
    return verify(null, bytes, object, signature);
  } catch {
    return false;
  }
}

/** Same key material, whatever the name: thresholds count keys, not names. */
export function keyFingerprint(key: PublicKey): string {
  return Buffer.from(key.key).toString('hex');
}

async function readKeyText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidKeyError(`cannot read key file ${path}: ${code ?? String(error)}`);
  }
}

/** Loads a secret key file, refusing a public key given by mistake and one that group or others can access. */
export async function readSecretKeyFile(path: string): Promise<SecretKey> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidKeyError(`cannot read key file ${path}: ${code ?? String(error)}`);
  }
  const text = await readKeyText(path);
  // Before the mode check: a public key is readable by design, and chmod would be the wrong advice.
  if (isPublicKeyText(text)) throw new PublicKeyGivenError(path);
  if ((mode & 0o077) !== 0) throw new InsecureKeyFileError(path, mode);
  return parseSecretKey(text);
}

function isPublicKeyText(text: string): boolean {
  try {
    parsePublicKey(text);
    return true;
  } catch {
    return false;
  }
}

export async function readPublicKeyFile(path: string): Promise<PublicKey> {
  return parsePublicKey(await readKeyText(path));
}

/** Accepts either a literal "name:base64" public key or a path to a file holding one. */
export async function loadPublicKey(keyOrFile: string): Promise<PublicKey> {
  const text = keyOrFile.trim();
  // "name:base64" with no slash in the name part is a key, not a path.
  if (/^[A-Za-z0-9][A-Za-z0-9._+-]*:/.test(text) && !text.startsWith('/') && !text.startsWith('.')) return parsePublicKey(text);
  return readPublicKeyFile(keyOrFile);
}

/** Writes NAME.secret (0600) and NAME.public (0644); never overwrites an existing key. */
export async function writeKeyPair(
  dir: string,
  pair: { secret: SecretKey; public: PublicKey },
): Promise<{ secretPath: string; publicPath: string }> {
  const secretPath = join(dir, `${pair.secret.name}.secret`);
  const publicPath = join(dir, `${pair.secret.name}.public`);
  for (const path of [secretPath, publicPath]) {
    if (await pathExists(path)) throw new InvalidKeyError(`refusing to overwrite existing key file ${path}`);
  }
  await writeFileAtomic(secretPath, `${formatSecretKey(pair.secret)}\n`, 0o600);
  await writeFileAtomic(publicPath, `${formatPublicKey(pair.public)}\n`, 0o644);
  return { secretPath, publicPath };
}
