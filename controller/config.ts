// The controller's one JSON config file, validated by zod; `check-config` prints what is wrong.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { EnrollmentLimitsSchema } from './fleet/enrollment-limits.js';
import { AbsolutePathSchema, ConfigError, distinctKeyCount, loadConfigFile, parseConfig, PublicKeyTextSchema } from '../shared/config-file.js';
import { errnoCode, errorMessage, UserError } from '../shared/errors.js';
import { parsePublicKey, type PublicKey } from '../shared/keys.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses "HOST:PORT" or "[IPv6]:PORT"; port 0 asks the kernel for a free one (tests). Null when invalid. */
export function parseListen(text: string): ListenAddress | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port > 65_535) return null;
  const v6 = match[1];
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : null;
  const host = match[2] ?? '';
  if (host.includes(':') || host.startsWith('-') || host.startsWith('.') || host.endsWith('.')) return null;
  return { host, port };
}


export const ListenSchema = z
  .string()
  .refine((text) => parseListen(text) !== null, { message: 'must be HOST:PORT, for example 127.0.0.1:8080 or [::1]:8080' });

export const ReportsConfigSchema = z
  .object({
    /** A host's report log is rotated when the next line would take it past this size. */
    maxLogBytes: z.number().int().min(4096).max(1024 * 1024 * 1024).default(1024 * 1024),
    /** Rotated logs kept per host (`<host>.log.1` … `.N`); the oldest is deleted. */
    keepRotated: z.number().int().min(0).max(100).default(3),
  })
  .strict();

/** Bounds on what clients may hold: connections, and how long a request may take to arrive. */
export const LimitsConfigSchema = z
  .object({
    /** Open connections at most (long-polls included); past it, new connections are closed at once. */
    maxConnections: z.number().int().min(1).max(1_000_000).default(1024),
    /** A client must send its request headers within this. */
    headersTimeoutSeconds: z.number().int().min(1).max(600).default(10),
    /** … and its whole request (headers and body) within this; a long-poll waits after its request has arrived. */
    requestTimeoutSeconds: z.number().int().min(1).max(3600).default(30),
  })
  .strict();
export type LimitsConfig = z.infer<typeof LimitsConfigSchema>;

/** A read token: long enough not to be guessed, short enough for a header. */
export const ReadTokenSchema = z.string().min(16).max(256);

/** Every field, each checked on its own; `ControllerConfigSchema` adds the rules between fields. */
const ControllerConfigFields = z
  .object({
    listen: ListenSchema.default('127.0.0.1:8080'),
    stateDir: AbsolutePathSchema.default('/var/lib/tsdeploy-controller'),
    /** Release keys whose signatures make a manifest publishable; the controller never holds their secrets. */
    trustedReleaseKeys: z.array(PublicKeyTextSchema).min(1),
    releaseThreshold: z.number().int().min(1).default(1),
    /** How often agents are expected to report; with silentAfterHeartbeats it defines "silent". */
    heartbeatSeconds: z.number().int().min(1).max(86_400).default(60),
    silentAfterHeartbeats: z.number().int().min(1).max(1000).default(3),
    /** Longest a `?wait=` long-poll is held open; requests asking for more are clamped. */
    maxWaitSeconds: z.number().int().min(0).max(60).default(60),
    /** When set, the read views (/dashboard, /metrics, /v1/status, /v1/rollouts/current) need `Authorization: Bearer <token>` (or `?token=`). */
    readToken: ReadTokenSchema.optional(),
    /** The same token read from a file at start-up (a systemd credential), so it stays out of the world-readable config. */
    readTokenFile: AbsolutePathSchema.optional(),
    /** Seconds between the rollout's timed checks (bake times, deadlines); reports also trigger one. */
    rolloutTickSeconds: z.number().int().min(1).max(3600).default(5),
    reports: ReportsConfigSchema.default({ maxLogBytes: 1024 * 1024, keepRotated: 3 }),
    limits: LimitsConfigSchema.default(LimitsConfigSchema.parse({})),
    enrollment: EnrollmentLimitsSchema.default(EnrollmentLimitsSchema.parse({})),
    /** A site controller's binary cache, filled by `import` and served read-only under /nix-cache/ (default <stateDir>/nix-cache). */
    cacheDir: AbsolutePathSchema.optional(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  })
  .strict();

/** A field's value when it is valid on its own, else null (its own problem is reported by its schema). */
function validField<T>(schema: z.ZodType<T>, value: unknown): T | null {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/**
 * The rules between fields, applied to whichever of their fields are valid on their own: so a config
 * with a bad field and a broken rule between two others gets both problems listed at once.
 */
export function controllerCrossFieldIssues(value: unknown): Array<{ path: string[]; message: string }> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const raw = value as Record<string, unknown>;
  const fields = ControllerConfigFields.shape;
  const issues: Array<{ path: string[]; message: string }> = [];
  const limits = validField(fields.limits, raw['limits']);
  if (limits !== null && limits.requestTimeoutSeconds < limits.headersTimeoutSeconds) {
    issues.push({ path: ['limits', 'requestTimeoutSeconds'], message: 'must not be shorter than headersTimeoutSeconds' });
  }
  if (raw['readToken'] !== undefined && raw['readTokenFile'] !== undefined) {
    issues.push({ path: ['readTokenFile'], message: 'give readToken or readTokenFile, not both' });
  }
  const keys = validField(fields.trustedReleaseKeys, raw['trustedReleaseKeys']);
  const threshold = validField(fields.releaseThreshold, raw['releaseThreshold']);
  const distinct = keys === null ? null : distinctKeyCount(keys);
  if (distinct !== null && threshold !== null && threshold > distinct) {
    issues.push({ path: ['releaseThreshold'], message: `releaseThreshold ${threshold} is more than the ${distinct} distinct trusted release keys` });
  }
  return issues;
}

export const ControllerConfigSchema = ControllerConfigFields.superRefine(
  (config: unknown, ctx) => {
    for (const issue of controllerCrossFieldIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
  },
  // Run even when a field failed: check-config lists every problem, not the per-field ones first.
  { when: () => true },
);
export type ControllerConfig = z.infer<typeof ControllerConfigSchema>;

/** Config errors share the agent's class; the old name stays for callers. */
export { ConfigError as ControllerConfigError };

/** Validates parsed JSON; the problems list has one entry per field. */
export function parseControllerConfig(json: unknown, path = '<config>'): ControllerConfig {
  return parseConfig(ControllerConfigSchema, json, path);
}

export function loadControllerConfig(path: string): Promise<ControllerConfig> {
  return loadConfigFile(ControllerConfigSchema, path);
}

/** The release keys as parsed keys; the schema has already checked every one. */
export function releaseKeys(config: ControllerConfig): PublicKey[] {
  return config.trustedReleaseKeys.map((text) => parsePublicKey(text));
}

export class ReadTokenFileError extends UserError {
  override name = 'ReadTokenFileError' as const;
  constructor(readonly path: string, readonly detail: string) {
    super(`read token file ${path}: ${detail}`);
  }
}

/** A read token kept in a file (a credential, or the operator's copy): its text, surrounding whitespace removed. */
export async function loadReadToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ReadTokenFileError(path, `cannot read: ${errnoCode(error) ?? errorMessage(error)}`);
  }
  const token = text.trim();
  if (!ReadTokenSchema.safeParse(token).success) throw new ReadTokenFileError(path, 'must hold one token of 16 to 256 characters');
  return token;
}

/** The token the read views need: readToken, else readTokenFile's content; undefined when neither is set. */
export async function configuredReadToken(config: Pick<ControllerConfig, 'readToken' | 'readTokenFile'>): Promise<string | undefined> {
  if (config.readToken !== undefined) return config.readToken;
  return config.readTokenFile === undefined ? undefined : loadReadToken(config.readTokenFile);
}
