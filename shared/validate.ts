// Store-path and host-name rules, shared by manifests, reports, configs and file names.
import { z } from 'zod';

/** Nix's base-32 alphabet: digits and lowercase letters without e, o, u, t. */
const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';
const STORE_PATH_RE = new RegExp(`^/nix/store/[${NIX_BASE32}]{32}-([0-9a-zA-Z+\\-._?=]{1,211})$`);

/** True when `path` is a top-level store path exactly as Nix accepts it. */
export function isStorePath(path: string): boolean {
  const match = STORE_PATH_RE.exec(path);
  return match !== null && !(match[1] ?? '').startsWith('.');
}

/** An RFC 1123 label: safe in file names, URLs and DNS. */
const HOST_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** True when `host` is one RFC 1123 label (letters, digits, inner hyphens, at most 63). */
export function isHostName(host: string): boolean {
  return HOST_RE.test(host);
}

export const StorePathSchema = z
  .string()
  .refine(isStorePath, { message: 'not a Nix store path (/nix/store/<32 base-32 chars>-<name>)' });

export const HostNameSchema = z
  .string()
  .refine(isHostName, { message: 'not an RFC 1123 host name label' });

/** A Nix system double such as x86_64-linux. */
export const SystemSchema = z.string().regex(/^[a-z0-9_]+-[a-z0-9_]+$/, 'not a Nix system such as x86_64-linux');
