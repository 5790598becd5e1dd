// What `publish` will sign: a version it can justify, not whatever the controller says. No I/O.
import { z } from 'zod';
import { HostNameSchema } from '../../shared/validate.js';

/** No version above this is signed by `publish`: far above any count of releases or epoch seconds, far below 2^53. */
export const VERSION_CEILING = 2 ** 40;

/** The default of `--max-jump`: more versions than this past the last one this publisher signed needs saying so. */
export const DEFAULT_MAX_JUMP = 1000;

/** `<key>.versions.json` (or `--state`): the last version this publisher signed, per host. */
export const PublishRecordSchema = z.object({ hosts: z.record(HostNameSchema, z.number().int().positive()) }).strict();
export type PublishRecord = z.infer<typeof PublishRecordSchema>;

/**
 * Null when `next` may be signed for `host`; else why not. `lastSigned` is this publisher's own record
 * (null on first use): a controller answering a huge current version cannot steer the next signature.
 */
export function versionRefusal(host: string, next: number, lastSigned: number | null, maxJump: number): string | null {
  if (!Number.isSafeInteger(next) || next > VERSION_CEILING) {
    return `the controller says version ${next - 1}, above the largest version publish signs (${VERSION_CEILING}); a controller cannot choose what is signed: check it`;
  }
  if (lastSigned !== null && next - lastSigned > maxJump) {
    return (
      `this publisher last signed version ${lastSigned} for ${host} and the controller says ${next - 1}: ` +
      `a jump of ${next - lastSigned} is more than --max-jump ${maxJump}; if another publisher made those versions, pass a larger --max-jump`
    );
  }
  return null;
}
