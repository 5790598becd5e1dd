// The release file a CI job writes (host → store path), read by `publish --release` and `bundle`.
import { z } from 'zod';
import { UserError } from '../../shared/errors.js';
import { readJsonFile } from '../../shared/json.js';
import { HostNameSchema, StorePathSchema } from '../../shared/validate.js';

/** What a CI job writes: the store path each host should run. */
export const ReleaseSchema = z
  .object({
    hosts: z.record(HostNameSchema, StorePathSchema).refine((hosts) => Object.keys(hosts).length > 0, { message: 'lists no hosts' }),
  })
  .strict();
export type Release = z.infer<typeof ReleaseSchema>;

export class ReleaseFileError extends UserError {
  override name = 'ReleaseFileError' as const;
  constructor(readonly path: string, readonly detail: string) {
    super(`release file ${path}: ${detail}`);
  }
}

export async function loadRelease(path: string): Promise<Release> {
  const release = await readJsonFile(path, ReleaseSchema, (detail) => new ReleaseFileError(path, detail));
  if (release === null) throw new ReleaseFileError(path, 'cannot read: ENOENT');
  return release;
}
