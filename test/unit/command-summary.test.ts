import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureSummary } from '../../shared/command.js';

describe('failureSummary (why a command failed, in one line)', () => {
  it("keeps Nix's cause, which comes before its last line", () => {
    const stderr = "copying path '/nix/store/x' from 'http://cache'...\nerror: writing to file: No space left on device\nerror: build of '/nix/store/y' failed\n";
    assert.equal(failureSummary(stderr), "error: writing to file: No space left on device; error: build of '/nix/store/y' failed");
  });
  it('falls back to the last line when no line says error:', () => {
    assert.equal(failureSummary('starting\nsomething broke\n'), 'something broke');
  });
});
