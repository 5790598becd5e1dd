// What the agent's and the controller's config files share: path and key schemas, and JSON loading.
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { formatZodIssues } from './dsse.js';
import { UserError } from './errors.js';
import { keyFingerprint, parsePublicKey } from './keys.js';

export const AbsolutePathSchema = z.string().refine(isAbsolute, { message: 'must be an absolute path' });

export const PublicKeyTextSchema = z.string().max(512).refine(
  (text) => {
    try {
      parsePublicKey(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a public key in Nix format "name:base64" (32 bytes)' },
);

/**
 * Distinct keys among `texts`, or null when one does not parse (its own schema reports it; zod runs
 * object refinements even after a field failed).
 */
export function distinctKeyCount(texts: readonly string[]): number | null {
  const fingerprints = new Set<string>();
  for (const text of texts) {
    try {
      fingerprints.add(keyFingerprint(parsePublicKey(text)));
    } catch {
      return null;
    }
  }
  return fingerprints.size;
}

export class ConfigError extends UserError {
  override name = 'ConfigError' as const;
  constructor(readonly path: string, readonly problems: readonly string[]) {
    super(`invalid config ${path}: ${problems.join('; ')}`);
  }
}

/** Validates parsed JSON; the problems list has one entry per field. */
export function parseConfig<T>(schema: z.ZodType<T>, json: unknown, path: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ConfigError(path, formatZodIssues(parsed.error).split('; '));
  return parsed.data;
}

/** Reads and validates a JSON config file; every failure is a ConfigError naming the file. */
export async function loadConfigFile<T>(schema: z.ZodType<T>, path: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${error instanceof Error ? error.message : String(error)}`]);
  }
  return parseConfig(schema, json, path);
}
