// The agent's one JSON config file, validated by zod; `check-config` prints what is wrong.
import { isAbsolute } from 'node:path';
import { validate as validateCron } from 'node-cron';
import { z } from 'zod';
import {
  AbsolutePathSchema,
  ConfigError,
  distinctKeyCount,
  loadConfigFile,
  parseConfig,
  PublicKeyTextSchema,
} from '../shared/config-file.js';
import { HostNameSchema } from '../shared/validate.js';
import { REBOOT_CONFIG_FIELDS } from './reboot-config.js';


/**
 * Where manifests come from. The manifest's path is appended to it, so it may carry no query, fragment
 * or credentials: `?trusted=true` or `#…` would swallow that path, and a password would sit in a world-readable config.
 */
const SourceSchema = z
  .string()
  .refine((text) => /^(https?|file):\/\/./.test(text) && URL.canParse(text), {
    message: 'must be an http://, https:// or file:// URL',
  })
  .refine((text) => !URL.canParse(text) || !/[?#]/.test(text), { message: 'must not have a query (?…) or a fragment (#…)' })
  .refine((text) => !URL.canParse(text) || (new URL(text).username === '' && new URL(text).password === ''), {
    message: 'must not carry a user name or password',
  })
  .transform((text) => text.replace(/\/+$/, ''));

const CheckBase = { name: z.string().min(1).max(128).optional() };
const SecondsSchema = z.number().positive().max(86_400);

export const HealthCheckSchema = z.discriminatedUnion('type', [
  z
    .object({
      ...CheckBase,
      type: z.literal('http'),
      url: z.string().refine((u) => /^https?:\/\//.test(u) && URL.canParse(u), { message: 'must be an http(s) URL' }),
      /** Expected status; any 2xx when omitted. */
      expectStatus: z.number().int().min(100).max(599).optional(),
      timeoutSeconds: SecondsSchema.default(5),
    })
    .strict(),
  z
    .object({
      ...CheckBase,
      type: z.literal('tcp'),
      host: z.string().min(1).max(253),
      port: z.number().int().min(1).max(65_535),
      timeoutSeconds: SecondsSchema.default(5),
    })
    .strict(),
  z
    .object({
      ...CheckBase,
      type: z.literal('command'),
      argv: z.array(z.string()).min(1).refine((argv) => isAbsolute(argv[0] ?? ''), {
        message: 'argv[0] must be an absolute path (commands never run through a shell)',
      }),
      timeoutSeconds: SecondsSchema.default(30),
    })
    .strict(),
  z
    .object({
      ...CheckBase,
      type: z.literal('systemd'),
      /** Accept `degraded` from `systemctl is-system-running` as healthy. */
      allowDegraded: z.boolean().default(false),
      timeoutSeconds: SecondsSchema.default(10),
    })
    .strict(),
  z
    .object({
      ...CheckBase,
      type: z.literal('controller'),
      timeoutSeconds: SecondsSchema.default(10),
    })
    .strict(),
]);
export type HealthCheck = z.infer<typeof HealthCheckSchema>;

export const PollSchema = z
  .object({
    /** Seconds between polls of a static source, and between long-polls that failed. */
    intervalSeconds: z.number().int().min(1).max(86_400).default(60),
    /** Up to this many random seconds are added to each interval, so a fleet does not poll in step. */
    jitterSeconds: z.number().int().min(0).max(86_400).default(10),
    /** A node-cron expression; when set it replaces intervalSeconds for static sources. */
    cron: z.string().min(1).optional(),
    /** How long a controller may hold a long-poll open (the controller caps it at 60). */
    waitSeconds: z.number().int().min(0).max(60).default(50),
  })
  .strict();

/** Every field, each checked on its own; `AgentConfigSchema` adds the rules between fields. */
const AgentConfigFields = z
  .object({
    host: HostNameSchema,
    /** The controller (or a static mirror, or a file:// directory): reports go here when it is http(s). */
    source: SourceSchema,
    /** Static mirrors of the `export`, tried in order when `source` does not answer. */
    mirrors: z.array(SourceSchema).max(8).default([]),
    trustedKeys: z.array(PublicKeyTextSchema).min(1),
    threshold: z.number().int().min(1).default(1),
    stateDir: AbsolutePathSchema.default('/var/lib/tsdeploy-agent'),
    profile: AbsolutePathSchema.default('/nix/var/nix/profiles/system'),
    poll: PollSchema.default(PollSchema.parse({})),
    health: z
      .object({
        checks: z.array(HealthCheckSchema).max(64).default([]),
        /** Every check must pass within this window after activation. */
        timeoutSeconds: z.number().int().min(1).max(86_400).default(120),
        /** …and then keep passing for this long. */
        stableSeconds: z.number().int().min(0).max(86_400).default(10),
        /** Seconds between rounds of checks. */
        intervalSeconds: z.number().min(0.1).max(600).default(2),
        /**
         * http(s) URLs probed when only the `controller` check fails: if none answers, the host's own network is
         * down and the generation is rolled back; otherwise it is a controller outage. Unset: the host's Nix
         * substituters and the http(s) mirrors.
         */
        networkProbes: z
          .array(z.string().refine((u) => /^https?:\/\//.test(u) && URL.canParse(u), { message: 'must be an http(s) URL' }))
          .max(16)
          .optional(),
      })
      .strict()
      .default({ checks: [], timeoutSeconds: 120, stableSeconds: 10, intervalSeconds: 2 }),
    rollback: z
      .object({
        onActivationFailure: z.boolean().default(true),
        onHealthFailure: z.boolean().default(true),
        onControllerUnreachable: z.boolean().default(true),
      })
      .strict()
      .default({ onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true }),
    reports: z
      .object({
        /** Reports kept on disk while the controller is unreachable; the oldest are dropped first. */
        queueLimit: z.number().int().min(1).max(100_000).default(1000),
        heartbeatSeconds: z.number().int().min(5).max(86_400).default(60),
      })
      .strict()
      .default({ queueLimit: 1000, heartbeatSeconds: 60 }),
    /**
     * `switch` manifests run the new generation with `test` first; only after the health window passes do they
     * set the profile and write the boot entry, so a reboot during probation comes back on the last good one.
     */
    probation: z.boolean().default(true),
    ...REBOOT_CONFIG_FIELDS,
    timeouts: z
      .object({
        fetchSeconds: z.number().int().min(1).max(3600).default(30),
        realiseSeconds: z.number().int().min(1).max(86_400).default(3600),
        activateSeconds: z.number().int().min(1).max(86_400).default(600),
        /** An activation still running at activateSeconds is reported and waited for, or stopped and failed. */
        onActivationOverrun: z.enum(['wait', 'stop']).default('wait'),
      })
      .strict()
      .default({ fetchSeconds: 30, realiseSeconds: 3600, activateSeconds: 600, onActivationOverrun: 'wait' }),
    /** A file holding a one-time enrollment token (from `tsdeploy-controller tokens create`). */
    enrollmentTokenFile: AbsolutePathSchema.optional(),
    /**
     * Confirmed generations the agent made that stay in the profile (the newest); older ones, and every one
     * whose deployment failed, are deleted so `nix-collect-garbage` can reclaim them.
     */
    keepGenerations: z.number().int().min(1).max(100).default(5),
    /** Minimum free space kept on the Nix store's filesystem beyond the closure's size. */
    minFreeBytes: z.number().int().min(0).default(256 * 1024 * 1024),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    /** Where to write Prometheus metrics for node_exporter's textfile collector (a `.prom` file), if anywhere. */
    metrics: z.object({ textfile: AbsolutePathSchema.refine((p) => p.endsWith('.prom'), { message: 'must end in .prom' }) }).strict().optional(),
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
export function agentCrossFieldIssues(value: unknown): Array<{ path: string[]; message: string }> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const raw = value as Record<string, unknown>;
  const fields = AgentConfigFields.shape;
  const issues: Array<{ path: string[]; message: string }> = [];
  const trustedKeys = validField(fields.trustedKeys, raw['trustedKeys']);
  const threshold = validField(fields.threshold, raw['threshold']);
  const distinct = trustedKeys === null ? null : distinctKeyCount(trustedKeys);
  if (distinct !== null && threshold !== null && threshold > distinct) {
    issues.push({ path: ['threshold'], message: `threshold ${threshold} is more than the ${distinct} distinct trusted keys` });
  }
  const cron = validField(fields.poll, raw['poll'])?.cron;
  if (cron !== undefined && !validateCron(cron)) {
    issues.push({ path: ['poll', 'cron'], message: `not a valid cron expression: "${cron}"` });
  }
  const source = validField(fields.source, raw['source']);
  const health = validField(fields.health, raw['health']);
  if (source !== null && source.startsWith('file:') && health?.checks.some((check) => check.type === 'controller') === true) {
    issues.push({ path: ['health', 'checks'], message: 'a "controller" check needs an http(s) source' });
  }
  return issues;
}

export const AgentConfigSchema = AgentConfigFields.superRefine(
  (config: unknown, ctx) => {
    for (const issue of agentCrossFieldIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
  },
  // Run even when a field failed: check-config lists every problem, not the per-field ones first.
  { when: () => true },
);
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

export { ConfigError };

/** Validates parsed JSON; the problems list has one entry per field. */
export function parseAgentConfig(json: unknown, path = '<config>'): AgentConfig {
  return parseConfig(AgentConfigSchema, json, path);
}

export function loadAgentConfig(path: string): Promise<AgentConfig> {
  return loadConfigFile(AgentConfigSchema, path);
}
