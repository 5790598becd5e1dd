// A controller outage is not a cut-off: the rule as a table, which targets are probed, and the driver end to end
// (a controller check that fails because reports cannot be delivered; the network probes' answers given).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeUnhealthy, networkProbeTargets, type ProbeResult } from '../../agent/core/controller-outage.js';
import type { AgentDeps } from '../../agent/driver.js';
import { parseSubstituters } from '../../agent/adapters/network-probe.js';
import { showConfigArgs } from '../../agent/adapters/nix.js';
import type { HealthResult } from '../../shared/report.js';
import { createWorld, NEW, OLD, SICK, type World } from './agent-fakes.js';

const CONTROLLER_DOWN: HealthResult = { name: 'controller', type: 'controller', ok: false, detail: 'controller unreachable or refused the report' };
const SERVICE_OK: HealthResult = { name: 'service', type: 'http', ok: true, detail: '200' };
const CACHE_UP: ProbeResult = { target: 'http://cache.lab:8080', ok: true, detail: 'answered HTTP 200' };
const CACHE_DOWN: ProbeResult = { target: 'http://cache.lab:8080', ok: false, detail: 'connect ENETUNREACH' };

describe('a failed health window: unhealthy, cut off, or a controller outage', () => {
  const cases: Array<[string, boolean, ProbeResult[] | undefined, string, RegExp]> = [
    ['a local check failed: the ordinary health failure, probes or not', false, [CACHE_UP], 'unhealthy', /^health check failed/],
    ['only the controller failed and no probe answered: cut off', true, [CACHE_DOWN], 'cut-off', /^controller unreachable after switch, and the host's network is down too: http:\/\/cache\.lab:8080 \(connect ENETUNREACH\)$/],
    ['only the controller failed and a probe answered: an outage', true, [CACHE_DOWN, { ...CACHE_UP, target: 'https://mirror' }], 'controller-outage', /the network is up \(https:\/\/mirror \(answered HTTP 200\)\)/],
    ['only the controller failed and nothing could be probed: no evidence of a cut-off', true, [], 'controller-outage', /no network probe/],
    ['only the controller failed, probes not run at all: no evidence either', true, undefined, 'controller-outage', /no network probe/],
  ];
  for (const [name, controllerOnly, network, kind, text] of cases) {
    it(name, () => {
      const results = controllerOnly ? [SERVICE_OK, CONTROLLER_DOWN] : [{ ...SERVICE_OK, ok: false, detail: '500' }];
      const verdict = judgeUnhealthy(results, controllerOnly ? 'controller unreachable after switch' : 'health check failed: service (500)', controllerOnly, network);
      assert.equal(verdict.kind, kind);
      assert.match(verdict.kind === 'controller-outage' ? verdict.note : verdict.reason, text);
      if (verdict.kind !== 'unhealthy') {
        const controller = verdict.results.find((r) => r.type === 'controller');
        assert.match(controller?.detail ?? '', /^controller unreachable or refused the report; /, 'the report says what the probes saw');
      }
    });
  }
});

describe('network probe targets', () => {
  const cases: Array<[string, string[] | undefined, string[], string[], string | null, string[]]> = [
    ['by default the substituters, then the http(s) mirrors', undefined, ['https://cache.nixos.org/', 'http://10.0.0.1:8080'], ['https://mirror.example.org', 'file:///srv/m'], 'http://10.0.0.9:8090', ['https://cache.nixos.org/', 'http://10.0.0.1:8080', 'https://mirror.example.org']],
    ['configured probes replace the defaults', ['http://gw.example.org/'], ['https://cache.nixos.org/'], [], null, ['http://gw.example.org/']],
    ['an empty list probes nothing', [], ['https://cache.nixos.org/'], [], null, []],
    ['never the controller itself (a cache it serves goes down with it)', undefined, ['http://ctl.example.org/nix-cache', 'http://ctl.example.org:8080/'], [], 'http://ctl.example.org:80', ['http://ctl.example.org:8080/']],
    ['no local stores, daemons or duplicates', undefined, ['daemon', 'file:///nix/cache', 'ssh://b', 'https://c/', 'https://c/'], [], null, ['https://c/']],
  ];
  for (const [name, configured, substituters, mirrors, controller, expected] of cases) {
    it(name, () => assert.deepEqual(networkProbeTargets(configured, substituters, mirrors, controller), expected));
  }
  it('at most 8', () => {
    const many = Array.from({ length: 12 }, (_, i) => `http://c${i}/`);
    assert.equal(networkProbeTargets(undefined, many, [], null).length, 8);
  });
  it("reads the substituters from `nix show-config --json` (argv pinned)", () => {
    assert.deepEqual(showConfigArgs(), ['nix', '--extra-experimental-features', 'nix-command', 'show-config', '--json']);
    assert.deepEqual(parseSubstituters('{"substituters":{"value":["https://cache.nixos.org/","http://10.0.0.1:8080"]}}'), ['https://cache.nixos.org/', 'http://10.0.0.1:8080']);
    assert.deepEqual(parseSubstituters('not json'), []);
  });
});

/** A world whose controller cannot be reached: the controller check fails exactly as the real one does, through the report sink. */
function controllerDown(world: World, network: ProbeResult[] | null): Partial<AgentDeps> {
  const nix = world.nix;
  return {
    reports: { enqueue: async (report) => world.reports.push(report), flush: async () => false, queued: async () => 1 },
    health: {
      run: async (controllerAccepts, scope) => {
        const ok = nix.currentSystem_ !== null && !nix.unhealthy.has(nix.currentSystem_);
        const service: HealthResult = { name: 'service', type: 'http', ok, detail: ok ? '200' : '500' };
        if (scope === 'local') return [service];
        const controller = await controllerAccepts();
        return [service, { name: 'controller', type: 'controller', ...controller }];
      },
    },
    ...(network === null ? {} : { network: { probe: async () => network } }),
  };
}

describe('driver: the controller is down during a deployment', () => {
  for (const probation of [false, true]) {
    const mode = probation ? 'with probation' : 'without probation';
    it(`${mode}: the binary cache answers, so the new generation is confirmed, not rolled back`, async () => {
      const world = createWorld();
      Object.assign(world.config, { probation });
      world.serve(1, NEW);
      await world.agent(undefined, controllerDown(world, [CACHE_UP])).cycle(0);
      const deployment = world.journal.deployment;
      assert.equal(deployment?.phase, 'confirmed', deployment?.reason ?? '');
      assert.equal(world.nix.currentSystem_, NEW);
      assert.deepEqual(world.journal.failedVersions, []);
      const controller = world.journal.lastHealth?.results.find((r) => r.type === 'controller');
      assert.match(controller?.detail ?? '', /the network is up \(http:\/\/cache\.lab:8080 \(answered HTTP 200\)\): a controller outage/);
      assert.match(JSON.stringify(world.reports.at(-1)?.health), /a controller outage/, 'the report says what was seen');
    });

    it(`${mode}: nothing answers, so the host is cut off: rolled back, and the old generation is judged without the controller`, async () => {
      const world = createWorld();
      Object.assign(world.config, { probation });
      world.serve(1, NEW);
      await world.agent(undefined, controllerDown(world, [CACHE_DOWN])).cycle(0);
      const deployment = world.journal.deployment;
      assert.equal(deployment?.phase, 'rolled-back', deployment?.reason ?? '');
      assert.match(deployment?.reason ?? '', /^controller unreachable after switch, and the host's network is down too: http:\/\/cache\.lab:8080 \(connect ENETUNREACH\)$/);
      assert.equal(world.nix.currentSystem_, OLD);
      assert.deepEqual(world.journal.lastHealth?.results.map((r) => [r.type, r.ok]), [['http', true]], 'the rollback was judged by its own checks');
      assert.equal(world.reports.at(-1)?.outcome, 'rolled-back');
    });
  }

  it('without any network probe there is no evidence of a cut-off: confirmed, and the report says why', async () => {
    const world = createWorld();
    world.serve(1, NEW);
    await world.agent(undefined, controllerDown(world, null)).cycle(0);
    assert.equal(world.journal.deployment?.phase, 'confirmed');
    assert.match(JSON.stringify(world.journal.lastHealth?.results), /no network probe to tell a controller outage from a cut-off host/);
  });

  it('a generation unhealthy on its own is still rolled back while the controller is down', async () => {
    const world = createWorld();
    world.nix.unhealthy.add(SICK);
    world.serve(1, SICK);
    await world.agent(undefined, controllerDown(world, [CACHE_UP])).cycle(0);
    assert.equal(world.journal.deployment?.phase, 'rolled-back');
    assert.match(world.journal.deployment?.reason ?? '', /health check failed: service \(500\), controller/);
    assert.equal(world.nix.currentSystem_, OLD);
  });
});
