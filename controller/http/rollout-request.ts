// POST /v1/rollouts: a policy and every host's signed manifest, read through the one JSON reader.
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { RejectedInputError } from '../../shared/errors.js';
import { parseJson } from '../../shared/json.js';
import { MANIFEST_MAX_BYTES } from '../../shared/manifest.js';
import type { RolloutRequest } from '../fleet/rollouts.js';
import { readBody } from './respond.js';

/** A rollout carries one signed manifest (at most 64 KiB) per host. */
const ROLLOUT_MAX_BYTES = 256 * 1024 * 1024;

const RolloutRequestSchema = z
  .object({ id: z.string().min(1).max(64), policy: z.unknown(), manifests: z.array(z.string().max(MANIFEST_MAX_BYTES)).min(1).max(100_000) })
  .strict();

export class RolloutRequestError extends RejectedInputError {
  override name = 'RolloutRequestError' as const;
  readonly reason = 'malformed';
}

export async function readRolloutRequest(req: IncomingMessage): Promise<RolloutRequest> {
  const body = await readBody(req, ROLLOUT_MAX_BYTES);
  return parseJson(body, RolloutRequestSchema, (detail) => new RolloutRequestError(`rollout request: ${detail}`));
}
