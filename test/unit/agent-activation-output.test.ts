// What a dry activation would change reaches the reports: bounded by a pure rule, kept in the journal, carried by the driver.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIVATION_OUTPUT_MAX_LINES, boundActivationOutput } from '../../agent/core/activation-output.js';
import { EMPTY_JOURNAL, type Journal } from '../../agent/core/journal.js';
import { step, type Policy } from '../../agent/core/step.js';
import { ACTIVATION_OUTPUT_MAX_CHARS, ReportSchema } from '../../shared/report.js';
import { createWorld, NEW, OLD } from './agent-fakes.js';

const POLICY: Policy = { onActivationFailure: true, onHealthFailure: true, onControllerUnreachable: true, maxResumes: 3 };
const NOW = new Date('2026-11-22T12:00:00Z');

describe('activation output: the bound', () => {
  const lines = (n: number, width = 10) => Array.from({ length: n }, (_, i) => `${String(i).padStart(3, '0')} ${'x'.repeat(width)}`).join('\n');
  const cases: Array<[string, string, (out: string | null) => void]> = [
    ['nothing printed is nothing to carry', '\n \n', (out) => assert.equal(out, null)],
    ['a short output is kept whole, trailing blanks dropped', 'would start the following units: a.service  \nwould stop: b.service\n', (out) => assert.equal(out, 'would start the following units: a.service\nwould stop: b.service')],
    ['more than 64 lines keeps the last 64 and counts the rest', lines(100), (out) => {
      const kept = (out ?? '').split('\n');
      assert.equal(kept[0], '… 36 earlier line(s) left out');
      assert.equal(kept.length, ACTIVATION_OUTPUT_MAX_LINES + 1);
      assert.match(kept.at(-1) ?? '', /^099 /);
    }],
    ['long lines are cut to 16 KiB once JSON-encoded, newest kept', lines(64, 1000), (out) => {
      assert.ok(JSON.stringify(out).length <= ACTIVATION_OUTPUT_MAX_CHARS);
      assert.match(out ?? '', /^… \d+ earlier line\(s\) left out\n/);
      assert.match(out ?? '', /063 x+$/);
    }],
    ['characters JSON escapes count at their escaped size', '"\\\u0001'.repeat(10_000), (out) => assert.ok(JSON.stringify(out).length <= ACTIVATION_OUTPUT_MAX_CHARS)],
  ];
  for (const [name, input, check] of cases) it(name, () => check(boundActivationOutput(input)));
});

describe('activation output: journal and reports', () => {
  it('a confirmed dry activation keeps what it said in the journal', () => {
    const journal: Journal = {
      ...EMPTY_JOURNAL,
      deployment: {
        version: 2, storePath: NEW, activation: 'dry-activate', phase: 'activating', previous: null, generation: null, reason: null,
        resumes: 0, startedAt: NOW.toISOString(), updatedAt: NOW.toISOString(),
      },
    };
    const next = step(journal, { type: 'activated', output: 'would restart the following units: lab-service.service\n' }, NOW, POLICY);
    assert.equal(next.journal.deployment?.phase, 'confirmed');
    assert.equal(next.journal.deployment?.activationOutput, 'would restart the following units: lab-service.service');
  });

  it('the driver carries a dry activation\'s output in its reports, and a switch has none', async () => {
    const world = createWorld();
    const activate = world.nix.activate.bind(world.nix);
    world.nix.activate = async (path, action) => {
      await activate(path, action);
      return action === 'dry-activate' ? `would activate ${path} (current: ${OLD})\nwould restart the following units: lab-service.service\n` : 'switched';
    };
    world.serve(1, NEW, 'dry-activate');
    await world.agent().cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    const last = world.reports.at(-1);
    assert.equal(last?.phase, 'confirmed');
    assert.equal(last?.activationOutput, `would activate ${NEW} (current: ${OLD})\nwould restart the following units: lab-service.service`);
    assert.ok(ReportSchema.safeParse({ ...last, seq: 1 }).success, 'the report still passes the controller\'s schema');
    await world.agent().heartbeat();
    assert.equal(world.reports.at(-1)?.activationOutput, last?.activationOutput, 'heartbeats keep it, so the controller\'s last report has it');
    world.serve(2, NEW, 'switch');
    await world.agent().cycle(0);
    assert.equal(world.reports.at(-1)?.activationOutput, undefined);
  });
});
