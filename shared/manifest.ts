// The desired-generation manifest: which store path one host should run, signed by release keys.
import { z } from 'zod';
import { HostNameSchema, SystemSchema } from './validate.js';

export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.tsdeploy.manifest.v1+json';

/** Largest manifest envelope anyone should fetch or accept; checked before parsing. */
export const MANIFEST_MAX_BYTES = 64 * 1024;

export const ActivationSchema = z.enum(['switch', 'boot', 'test', 'dry-activate']);
export type Activation = z.infer<typeof ActivationSchema>;

const IsoTimeSchema = z.iso.datetime({ offset: true });

/**
 * The payload is strict: unknown fields are refused, so nothing in a manifest can
 * smuggle in substituters, trusted keys or Nix options.
 * `storePath` is checked apart from the schema so that its refusal has its own name.
 */
export const ManifestSchema = z
  .object({
    host: HostNameSchema,
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    issuedAt: IsoTimeSchema,
    expiresAt: IsoTimeSchema,
    system: SystemSchema,
    storePath: z.string().max(300),
    activation: ActivationSchema,
    rollout: z.string().min(1).max(128).optional(),
    note: z.string().max(1024).optional(),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;

/** Encodes a manifest payload as the bytes that get signed. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}
