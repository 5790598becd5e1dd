// Checks of flag values, for `check` in a command's flags: each says what is wrong, or null. No I/O.
import type { FlagCheck } from './cli.js';
import { durationProblem } from './duration.js';
import { isKeyName, parsePublicKey, parseSecretKey } from './keys.js';
import { isHostName, isStorePath } from './validate.js';

export const positiveInteger: FlagCheck = (value) =>
  /^\d+$/.test(value) && Number.isSafeInteger(Number(value)) && Number(value) >= 1 ? null : 'must be a positive integer';

export const duration: FlagCheck = (value) => durationProblem(value);

export const hostName: FlagCheck = (value) =>
  isHostName(value) ? null : 'not a host name: one RFC 1123 label (letters, digits and inner hyphens, at most 63), for example web-1';

export const storePath: FlagCheck = (value) => (isStorePath(value) ? null : 'not a Nix store path (/nix/store/<32 base-32 chars>-<name>)');

export const httpUrl: FlagCheck = (value) =>
  /^https?:\/\/./.test(value) && URL.canParse(value) ? null : 'must be an http:// or https:// URL, for example http://127.0.0.1:8080';

export const nixSystem: FlagCheck = (value) => (/^[a-z0-9_]+-[a-z0-9_]+$/.test(value) ? null : 'not a Nix system such as x86_64-linux');

/** sha256 in hex, as `status --json` shows a digest (upper case and a "sha256:" prefix are taken too). */
export const sha256Hex: FlagCheck = (value) =>
  /^(sha256:)?[0-9a-f]{64}$/i.test(value) ? null : 'not a sha256 digest (64 hex characters)';

/** The lower-case hex of a value `sha256Hex` took. */
export function normalSha256(value: string): string {
  return value.replace(/^sha256:/i, '').toLowerCase();
}

export const keyName: FlagCheck = (value) =>
  isKeyName(value) ? null : 'not a key name: a letter or digit, then letters, digits, ".", "_", "+" or "-", for example release-1';

/** A literal "name:base64" that is not a path. */
function looksLikeKeyText(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._+-]*:/.test(value.trim()) && !value.startsWith('/') && !value.startsWith('.');
}

function parses(parse: (text: string) => unknown, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A secret key file; the key's own text on the command line is refused, and said to be which kind. */
export const secretKeyFile: FlagCheck = (value) => {
  if (!looksLikeKeyText(value)) return null;
  if (parses(parsePublicKey, value)) return 'is a public key, not a secret key: give the secret key file (NAME.secret) made beside it';
  if (parses(parseSecretKey, value)) return 'is a secret key itself: give the path of its file (NAME.secret), so the key stays out of the process list';
  return null;
};

/** A public key given as its text, "name:base64" (as `tsdeploy-agent pubkey` prints it). */
export const publicKeyText: FlagCheck = (value) => {
  if (parses(parsePublicKey, value)) return null;
  if (parses(parseSecretKey, value)) return 'is a secret key: give the public key (what tsdeploy-agent pubkey prints)';
  return 'not a public key in Nix format "name:base64" (what tsdeploy-agent pubkey prints)';
};

/** A public key, literal "name:base64" or a file (checked when it is read). */
export const publicKeyOrFile: FlagCheck = (value) => {
  if (!looksLikeKeyText(value)) return null;
  if (parses(parsePublicKey, value)) return null;
  if (parses(parseSecretKey, value)) return 'is a secret key: give the public key (NAME.public, or what keygen printed)';
  return 'not a public key in Nix format "name:base64" (32 bytes), nor a file path';
};
