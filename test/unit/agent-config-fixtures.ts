// A minimal valid agent config and the problems a config is refused with, for the config tests.
import assert from 'node:assert/strict';
import { ConfigError, parseAgentConfig } from '../../agent/config.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';

export const KEY = formatPublicKey(generateKeyPair('release-1').public);
export const base = { host: 'web-1', source: 'http://10.0.0.1:8080', trustedKeys: [KEY] };

/** Every problem `parseAgentConfig` lists for `json`; [] when it is valid. */
export function problems(json: unknown): string[] {
  try {
    parseAgentConfig(json);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.problems];
  }
}
