// `once` as scripts read it: every result's exit code, and the line said for the ones that end before a deployment.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onceExitCode, onceLine, type OnceResult } from '../../agent/core/once-result.js';

describe('once: result and exit code', () => {
  const table: Array<[OnceResult, string | null, number]> = [
    ['no-manifest', null, 0],
    ['unchanged', 'confirmed', 0],
    ['deployed', 'confirmed', 0],
    ['deployed', 'rolled-back', 4],
    ['deployed', 'failed', 1],
    ['rejected', null, 3],
    ['unreachable', null, 1],
    ['unreachable', 'confirmed', 1],
    ['enrollment-pending', null, 1],
  ];
  for (const [result, phase, code] of table) {
    it(`${result} (${phase ?? 'no deployment'}) exits ${code}`, () => assert.equal(onceExitCode(result, phase), code));
  }
  it('says what to do when enrollment is pending, and never that it will retry', () => {
    const line = onceLine('enrollment-pending', 'web-1', null) ?? '';
    assert.match(line, /tsdeploy-controller hosts approve web-1/);
    assert.doesNotMatch(line, /retry/);
  });
  it('names the unreachable source', () => {
    assert.equal(onceLine('unreachable', 'web-1', 'cannot fetch http://c/v1/hosts/web-1/manifest: ECONNREFUSED'), 'unreachable: cannot fetch http://c/v1/hosts/web-1/manifest: ECONNREFUSED');
  });
});
