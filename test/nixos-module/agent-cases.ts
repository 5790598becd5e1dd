// services.tsdeploy-agent evaluated with nixpkgs' lib.evalModules (imported by module.test.ts).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AgentConfigSchema, HealthCheckSchema } from '../../agent/config.js';
import {
  agentHost,
  build,
  buildJson,
  evaluate,
  evaluateHost,
  NixError,
  otherReleaseKey,
  releaseKey,
  repo,
  sectionLines,
  skip,
  unitOf,
  unitText,
  cacheKey,
} from './nix-eval.js';

const credential = '/run/credentials/tsdeploy-agent.service/enrollment-token';

describe('NixOS module services.tsdeploy-agent (nixpkgs lib; NixOS options and pkgs are stand-ins)', () => {
  it('runs the agent as root, and switch-to-configuration neither restarts nor stops it (as system.autoUpgrade)', { skip }, async () => {
    const summary = await evaluateHost(
      agentHost({}, {}, { nix: { envVars: { NIX_REMOTE: 'daemon' } }, networking: { proxy: { envVars: { https_proxy: 'http://proxy:3128' } } } }),
    );
    assert.deepEqual(summary.failedAssertions, []);
    const agent = unitOf(summary, 'tsdeploy-agent');
    assert.deepEqual(agent.wantedBy, ['multi-user.target']);
    assert.equal(agent.restartIfChanged, false);
    const text = unitText(summary, 'tsdeploy-agent.service');
    const unit = sectionLines(text, 'Unit');
    assert.ok(unit.includes('Wants=network-online.target'));
    assert.ok(unit.includes('After=network-online.target'));
    assert.ok(unit.includes('X-StopOnRemoval=false'));
    const service = sectionLines(text, 'Service');
    assert.ok(service.includes('X-RestartIfChanged=false'));
    assert.ok(service.includes('Restart=always'));
    assert.ok(service.includes('StateDirectory=tsdeploy-agent'));
    assert.ok(service.includes('Environment="NIX_REMOTE=daemon"'));
    assert.ok(service.includes('Environment="https_proxy=http://proxy:3128"'));
    assert.ok(!service.some((line) => /^(User|DynamicUser)=/.test(line)));
    assert.deepEqual(sectionLines(text, 'Install'), ['WantedBy=multi-user.target']);
    const checked = summary.etc['tsdeploy/agent.json'];
    assert.ok(checked?.endsWith('-tsdeploy-agent-checked.json'));
    assert.ok(service.includes(`ExecStart=${summary.standIns.tsdeploy}/bin/tsdeploy-agent run --config ${checked}`));
    assert.ok(summary.systemPackages.includes(summary.standIns.tsdeploy));
  });

  it("puts config.nix.package and config.systemd.package on the unit's PATH", { skip }, async () => {
    const systemd = '/nix/store/0c6p8xrgjwd7a2bcdfh3l4mn5pqr6s7v-systemd-257';
    const summary = await evaluateHost(agentHost({}, {}, { systemd: { package: systemd } }));
    const path = sectionLines(unitText(summary, 'tsdeploy-agent.service'), 'Service').find((line) => line.startsWith('Environment="PATH='));
    const entries = (path ?? '').slice('Environment="PATH='.length, -1).split(':');
    assert.equal(entries[0], `${summary.standIns.nix}/bin`);
    assert.equal(entries[1], `${systemd}/bin`);
    assert.ok(!entries.some((entry) => entry.startsWith(summary.standIns.systemd)), 'pkgs.systemd is not on the PATH');
  });

  it('defaults settings.host to networking.hostName', { skip }, async () => {
    const config = await buildJson('agentConfig', agentHost({}, {}, { networking: { hostName: 'web-7' } }));
    assert.equal(config['host'], 'web-7');
  });

  it('starts without the token file: LoadCredential, with SetCredential as its fallback', { skip }, async () => {
    const host = agentHost({}, { enrollmentTokenFile: '/var/lib/tsdeploy-agent-token' });
    const service = sectionLines(unitText(await evaluateHost(host), 'tsdeploy-agent.service'), 'Service');
    assert.ok(service.includes('LoadCredential=enrollment-token:/var/lib/tsdeploy-agent-token'));
    // systemd ignores an empty SetCredential value ("Invalid syntax"), so the fallback is a newline,
    // which the agent trims to an empty token: no token, so its enrollment waits for approval.
    const fallback = service.filter((line) => line.startsWith('SetCredential='));
    assert.deepEqual(fallback, ['SetCredential=enrollment-token:\\n']);
    const value = JSON.parse(`"${fallback[0]?.slice('SetCredential=enrollment-token:'.length) ?? ''}"`) as string;
    assert.notEqual(value, '');
    assert.equal(value.trim(), '');
    const config = await buildJson('agentConfig', host);
    assert.equal(config['enrollmentTokenFile'], credential);

    const without = sectionLines(unitText(await evaluateHost(agentHost()), 'tsdeploy-agent.service'), 'Service');
    assert.ok(!without.some((line) => /^(Load|Set)Credential=/.test(line)));
    assert.equal((await buildJson('agentConfig', agentHost()))['enrollmentTokenFile'], undefined);
  });

  it('documents a token file path that survives a reboot, not one under /run', { skip }, async () => {
    const examples = (await evaluate('optionExamples')) as { enrollmentTokenFile: string; packageDescription: string };
    assert.equal(examples.enrollmentTokenFile, '/var/lib/tsdeploy-agent-token');
    assert.equal(examples.packageDescription, 'The tsdeploy package to use.');
  });

  it('adds the cache substituters and keys to nix.settings extra-substituters and extra-trusted-public-keys', { skip }, async () => {
    const summary = await evaluateHost(agentHost({}, { cache: { substituters: ['https://cache.example.org'], trustedPublicKeys: [cacheKey] } }));
    assert.deepEqual(summary.nixSettings['extra-substituters'], ['https://cache.example.org']);
    assert.deepEqual(summary.nixSettings['extra-trusted-public-keys'], [cacheKey]);
    assert.deepEqual(summary.warnings, []);
    const plain = await evaluateHost(agentHost());
    assert.equal(plain.nixSettings['extra-substituters'], undefined);
    const unsigned = await evaluateHost(agentHost({}, { cache: { substituters: ['https://cache.example.org'] } }));
    assert.match(unsigned.warnings.join('\n'), /cache\.trustedPublicKeys is empty/);
  });

  it("writes metrics.textfile for node_exporter's textfile collector into the checked config; null (the default) writes none", { skip }, async () => {
    const textfile = '/var/lib/prometheus-node-exporter-text-files/tsdeploy.prom';
    const config = AgentConfigSchema.parse(JSON.parse(await readFile(await build('agentConfig', agentHost({}, { metrics: { textfile } })), 'utf8')));
    assert.deepEqual(config.metrics, { textfile });
    const plain = (await evaluate('agentConfigUnchecked', agentHost())) as Record<string, unknown>;
    assert.equal(plain['metrics'], undefined);
    await assert.rejects(evaluateHost(agentHost({}, { metrics: { textfile: '/var/lib/tsdeploy.txt' } })), (error: unknown) => {
      assert.ok(error instanceof NixError);
      assert.match(error.stderr, /metrics\.textfile/);
      return true;
    });
  });

  const refused: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    ['an empty trustedKeys', { trustedKeys: [] }, {}, /trustedKeys is empty/],
    ['a threshold above the distinct trusted keys', { trustedKeys: [releaseKey, releaseKey], threshold: 2 }, {}, /threshold is 2, but trustedKeys has only 1 distinct/],
    ['an enrollment token file in the Nix store', {}, { enrollmentTokenFile: '/nix/store/00000000000000000000000000000000-token' }, /outside the Nix store/],
    ['a relative enrollment token file', {}, { enrollmentTokenFile: 'token' }, /absolute path outside the Nix store/],
  ];
  for (const [what, settings, agent, message] of refused) {
    it(`fails an assertion for ${what}`, { skip }, async () => {
      const summary = await evaluateHost(agentHost(settings, agent));
      assert.equal(summary.failedAssertions.length, 1, summary.failedAssertions.join('\n'));
      assert.match(summary.failedAssertions[0] ?? '', message);
    });
  }

  it('settings is RFC 42: typed fields, free fields, and lists from several modules merged rather than replaced', { skip }, async () => {
    const written = (await evaluate('agentConfigUnchecked', [
      agentHost({ poll: { intervalSeconds: 30 }, logLevel: 'debug', reports: { queueLimit: 50 } }),
      { services: { 'tsdeploy-agent': { settings: { trustedKeys: [otherReleaseKey], poll: { jitterSeconds: 0 } } } } },
    ])) as Record<string, unknown>;
    assert.deepEqual(written['trustedKeys'], [releaseKey, otherReleaseKey]);
    assert.deepEqual(written['poll'], { intervalSeconds: 30, jitterSeconds: 0, waitSeconds: 50 });
    assert.equal(written['logLevel'], 'debug');
    assert.deepEqual(written['reports'], { queueLimit: 50 });
    await assert.rejects(evaluateHost(agentHost({ poll: { intervalSeconds: 0 } })), /intervalSeconds/);
  });

  it('keeps the old top-level options as renamed aliases of settings, with a warning', { skip }, async () => {
    const host = { services: { 'tsdeploy-agent': { enable: true, source: 'https://old.example.org', trustedKeys: [releaseKey], poll: { cron: '*/5 * * * *' } } } };
    const summary = await evaluateHost(host);
    assert.equal(summary.agentSettings?.['source'], 'https://old.example.org');
    assert.match(summary.warnings.join('\n'), /services\.tsdeploy-agent\.source' .*renamed to `services\.tsdeploy-agent\.settings\.source'/);
    const written = (await evaluate('agentConfigUnchecked', host)) as { poll: Record<string, unknown> };
    assert.equal(written.poll['cron'], '*/5 * * * *');
  });

  it('makes settings.stateDir read-only, so it cannot drift from StateDirectory', { skip }, async () => {
    const summary = await evaluateHost(agentHost());
    assert.equal(summary.agentSettings?.['stateDir'], '/var/lib/tsdeploy-agent');
    assert.ok(sectionLines(unitText(summary, 'tsdeploy-agent.service'), 'Service').includes('StateDirectory=tsdeploy-agent'));
    await assert.rejects(evaluateHost(agentHost({ stateDir: '/srv/agent' })), (error: unknown) => {
      assert.ok(error instanceof NixError);
      assert.match(error.stderr, /settings\.stateDir' is read-only/);
      return true;
    });
  });

  it('writes a config that the real tsdeploy-agent check-config accepts, checked at build time by the module', { skip }, async () => {
    const host = agentHost(
      {
        trustedKeys: [releaseKey, otherReleaseKey],
        threshold: 2,
        poll: { cron: '*/5 * * * *' },
        health: {
          checks: [
            { http: { url: 'http://127.0.0.1:8080/health', expectStatus: 204, name: 'web' } },
            { tcp: { host: '127.0.0.1', port: 5432 } },
            { command: { argv: ['/run/current-system/sw/bin/true'] } },
            { systemd: { allowDegraded: true } },
            { controller: {} },
          ],
          timeoutSeconds: 300,
        },
        rollback: { onControllerUnreachable: false },
      },
      { enrollmentTokenFile: '/var/lib/tsdeploy-agent-token' },
    );
    const config = AgentConfigSchema.parse(JSON.parse(await readFile(await build('agentConfig', host), 'utf8')));
    assert.equal(config.threshold, 2);
    assert.equal(config.poll.cron, '*/5 * * * *');
    assert.equal(config.rollback.onControllerUnreachable, false);
    assert.deepEqual(config.health.checks.map((check) => check.type), ['http', 'tcp', 'command', 'systemd', 'controller']);
    assert.deepEqual(config.health.checks[0], { type: 'http', name: 'web', url: 'http://127.0.0.1:8080/health', expectStatus: 204, timeoutSeconds: 5 });
  });

  it('fails the system build when the agent would refuse the config', { skip }, async () => {
    const host = agentHost({ health: { checks: [{ http: { url: 'ftp://127.0.0.1/health' } }] } });
    await assert.rejects(build('agentConfig', host), (error: unknown) => {
      assert.ok(error instanceof NixError);
      assert.match(error.stderr, /health\.checks\.0\.url: must be an http\(s\) URL/);
      assert.match(error.stderr, /tsdeploy-agent-checked\.json\.drv' failed/);
      return true;
    });
  });

  it("gives every typed setting the agent's own default", { skip }, async () => {
    const checks = [{ http: { url: 'http://127.0.0.1/' } }, { tcp: { host: '127.0.0.1', port: 22 } }, { command: { argv: ['/bin/true'] } }, { systemd: {} }, { controller: {} }];
    const written = (await evaluate('agentConfigUnchecked', agentHost({ health: { checks } }))) as Record<string, unknown>;
    const defaults = AgentConfigSchema.parse({ host: written['host'], source: written['source'], trustedKeys: written['trustedKeys'] });
    for (const key of ['threshold', 'stateDir', 'poll', 'rollback'] as const) assert.deepEqual(written[key], defaults[key], key);
    const health = written['health'] as Record<string, unknown>;
    assert.equal(health['timeoutSeconds'], defaults.health.timeoutSeconds);
    assert.equal(health['stableSeconds'], defaults.health.stableSeconds);
    const expected = [
      { type: 'http', url: 'http://127.0.0.1/' },
      { type: 'tcp', host: '127.0.0.1', port: 22 },
      { type: 'command', argv: ['/bin/true'] },
      { type: 'systemd' },
      { type: 'controller' },
    ].map((check) => HealthCheckSchema.parse(check));
    assert.deepEqual(health['checks'], expected);
  });

  it('sets meta.maintainers and meta.doc as nixpkgs modules do', { skip }, async () => {
    const summary = await evaluateHost(agentHost());
    assert.deepEqual(summary.meta.maintainers, []);
    assert.ok(summary.meta.doc.includes(join(repo, 'nixos-module/tsdeploy.md')));
  });

  it('leaves the host untouched when not enabled', { skip }, async () => {
    const summary = await evaluateHost({});
    assert.deepEqual(summary.services, {});
    assert.deepEqual(summary.etc, {});
    assert.deepEqual(summary.failedAssertions, []);
  });
});
