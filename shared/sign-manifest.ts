// Building and signing manifests, shared by `manifest sign`, `publish` and `bundle`.
import { encodeEnvelope, signEnvelope } from './dsse.js';
import type { SecretKey } from './keys.js';
import { encodeManifest, MANIFEST_PAYLOAD_TYPE, ManifestSchema, type Activation, type Manifest } from './manifest.js';
import { isStorePath } from './validate.js';
import { UserError } from './errors.js';
import { formatZodIssues } from './dsse.js';

export interface ManifestDraft {
  readonly host: string;
  readonly storePath: string;
  readonly version: number;
  readonly activation: Activation;
  readonly expiresInMs: number;
  readonly system: string;
  readonly now: Date;
  readonly rollout?: string | undefined;
  readonly note?: string | undefined;
}

export class InvalidManifestDraftError extends UserError {
  override name = 'InvalidManifestDraftError' as const;
}

/** The Nix system of this machine, the default for `--system`. */
export function localNixSystem(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return `${arch}-${process.platform}`;
}

/** Builds a manifest and checks it against the same rules an agent applies. */
export function buildManifest(draft: ManifestDraft): Manifest {
  if (!isStorePath(draft.storePath)) throw new InvalidManifestDraftError(`not a Nix store path: ${draft.storePath}`);
  const candidate = {
    host: draft.host,
    version: draft.version,
    issuedAt: draft.now.toISOString(),
    expiresAt: new Date(draft.now.getTime() + draft.expiresInMs).toISOString(),
    system: draft.system,
    storePath: draft.storePath,
    activation: draft.activation,
    ...(draft.rollout === undefined ? {} : { rollout: draft.rollout }),
    ...(draft.note === undefined ? {} : { note: draft.note }),
  };
  const parsed = ManifestSchema.safeParse(candidate);
  if (!parsed.success) throw new InvalidManifestDraftError(`invalid manifest: ${formatZodIssues(parsed.error)}`);
  return parsed.data;
}

/** The envelope bytes exactly as they are published and served. */
export function signManifest(manifest: Manifest, keys: readonly SecretKey[]): string {
  return encodeEnvelope(signEnvelope(MANIFEST_PAYLOAD_TYPE, encodeManifest(manifest), keys));
}
