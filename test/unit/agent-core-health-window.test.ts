// The health window rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkName } from '../../agent/adapters/health-checks.js';
import { failureReason, judgeRound, onlyControllerFailed } from '../../agent/core/health-window.js';





describe('health window', () => {
  const timing = { timeoutMs: 10_000, stableMs: 3_000 };
  it('passes once all checks have kept passing for the stable time', () => {
    let state = { startedAt: 0, passingSince: null as number | null };
    let r = judgeRound(state, true, 1000, timing);
    assert.equal(r.verdict, 'continue');
    state = r.state;
    r = judgeRound(state, true, 4000, timing);
    assert.equal(r.verdict, 'passed');
  });
  it('restarts the stable time when a check fails in between', () => {
    let r = judgeRound({ startedAt: 0, passingSince: null }, true, 1000, timing);
    r = judgeRound(r.state, false, 2000, timing);
    assert.equal(r.state.passingSince, null);
    r = judgeRound(r.state, true, 3000, timing);
    r = judgeRound(r.state, true, 5000, timing);
    assert.equal(r.verdict, 'continue');
    r = judgeRound(r.state, true, 6000, timing);
    assert.equal(r.verdict, 'passed');
  });
  it('fails when checks still fail at the timeout', () => {
    assert.equal(judgeRound({ startedAt: 0, passingSince: null }, false, 9_999, timing).verdict, 'continue');
    assert.equal(judgeRound({ startedAt: 0, passingSince: null }, false, 10_000, timing).verdict, 'failed');
  });
  it('passes at once with a stable time of zero', () => {
    assert.equal(judgeRound({ startedAt: 0, passingSince: null }, true, 0, { timeoutMs: 1, stableMs: 0 }).verdict, 'passed');
  });
  it('names failing checks and tells a lost controller apart', () => {
    const results = [
      { name: 'web', type: 'http' as const, ok: false, detail: 'HTTP 500' },
      { name: 'controller', type: 'controller' as const, ok: true, detail: 'ok' },
    ];
    assert.equal(failureReason(results), 'health check failed: web (HTTP 500)');
    assert.equal(onlyControllerFailed(results), false);
    assert.equal(onlyControllerFailed([{ name: 'controller', type: 'controller', ok: false, detail: 'unreachable' }]), true);
  });
  it('names checks by type and target unless named', () => {
    assert.equal(checkName({ type: 'http', url: 'http://127.0.0.1:9100/health', timeoutSeconds: 5 }), 'http http://127.0.0.1:9100/health');
    assert.equal(checkName({ type: 'tcp', host: 'db', port: 5432, timeoutSeconds: 5, name: 'db' }), 'db');
  });
});
