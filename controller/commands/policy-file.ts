// Reads a rollout policy file (JSON) for `rollout start` and `publish --policy`.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../shared/cli.js';
import { EnvironmentError, errnoCode } from '../../shared/errors.js';
import { parseJson } from '../../shared/json.js';
import { RolloutPolicySchema, type RolloutPolicy } from '../rollout/policy.js';

export async function loadPolicy(path: string | undefined): Promise<RolloutPolicy> {
  if (path === undefined) return RolloutPolicySchema.parse({});
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new EnvironmentError(`cannot read rollout policy ${path}: ${errnoCode(error) ?? String(error)}`);
  });
  return parseJson(text, RolloutPolicySchema, (detail) => new UsageError(`rollout policy ${path}: ${detail}`));
}

