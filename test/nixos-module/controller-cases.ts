// services.tsdeploy-controller evaluated with nixpkgs' lib.evalModules (imported by module.test.ts).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseControllerConfig } from '../../controller/config.js';
import { build, controllerHost, evaluate, evaluateHost, NixError, releaseKey, sectionLines, skip, unitOf, unitText } from './nix-eval.js';

describe('NixOS module services.tsdeploy-controller (nixpkgs lib; NixOS options and pkgs are stand-ins)', () => {
  it('hardens the controller unit as nixpkgs hardens atticd', { skip }, async () => {
    const summary = await evaluateHost(controllerHost());
    assert.deepEqual(summary.failedAssertions, []);
    assert.deepEqual(unitOf(summary, 'tsdeploy-controller').wantedBy, ['multi-user.target']);
    const service = sectionLines(unitText(summary, 'tsdeploy-controller.service'), 'Service');
    const expected = [
      'DynamicUser=true',
      'StateDirectory=tsdeploy-controller',
      'CapabilityBoundingSet=',
      'DeviceAllow=',
      'DevicePolicy=closed',
      'NoNewPrivileges=true',
      'PrivateTmp=true',
      'PrivateUsers=true',
      'ProcSubset=pid',
      'ProtectHome=true',
      'ProtectProc=invisible',
      'ProtectSystem=strict',
      'RestrictAddressFamilies=AF_INET',
      'RestrictAddressFamilies=AF_INET6',
      'RestrictAddressFamilies=AF_UNIX',
      'SystemCallArchitectures=native',
      'UMask=0077',
    ];
    for (const line of expected) assert.ok(service.includes(line), line);
    assert.deepEqual(
      service.filter((line) => line.startsWith('SystemCallFilter=')),
      ['SystemCallFilter=@system-service', 'SystemCallFilter=~@privileged', 'SystemCallFilter=~@resources'],
    );
    assert.ok(!service.some((line) => line.startsWith('MemoryDenyWriteExecute=')), "V8's JIT needs writable code pages");
    const checked = summary.etc['tsdeploy/controller.json'];
    assert.ok(checked?.endsWith('-tsdeploy-controller-checked.json'));
    assert.ok(service.includes(`ExecStart=${summary.standIns.tsdeploy}/bin/tsdeploy-controller serve --config ${checked}`));
  });

  it('opens the firewall only when openFirewall is set', { skip }, async () => {
    assert.deepEqual((await evaluateHost(controllerHost({}, { listen: { port: 9000 } }))).firewallTCPPorts, []);
    const opened = await evaluateHost(controllerHost({}, { listen: { port: 9000 }, openFirewall: true }));
    assert.deepEqual(opened.firewallTCPPorts, [9000]);
  });

  const refused: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    ['an empty trustedReleaseKeys', { trustedReleaseKeys: [] }, {}, /trustedReleaseKeys is empty/],
    ['a releaseThreshold above the distinct keys', { releaseThreshold: 2 }, {}, /releaseThreshold is 2, but trustedReleaseKeys has only 1/],
    ['a state directory outside /var/lib', { stateDir: '/srv/tsdeploy' }, {}, /stateDir must be a directory under \/var\/lib/],
    ['a port below 1024', {}, { listen: { port: 80 } }, /listen\.port must be 1024 or above/],
    ['a read token file in the Nix store', {}, { readTokenFile: '/nix/store/00000000000000000000000000000000-token' }, /readTokenFile must be an absolute path outside the Nix store/],
    ['a relative read token file', {}, { readTokenFile: 'read-token' }, /readTokenFile must be an absolute path outside the Nix store/],
  ];
  for (const [what, settings, controller, message] of refused) {
    it(`fails an assertion for ${what}`, { skip }, async () => {
      const summary = await evaluateHost(controllerHost(settings, controller));
      assert.equal(summary.failedAssertions.length, 1, summary.failedAssertions.join('\n'));
      assert.match(summary.failedAssertions[0] ?? '', message);
    });
  }

  it('derives StateDirectory and listen from settings and listen.*, so neither can drift', { skip }, async () => {
    const host = controllerHost({ stateDir: '/var/lib/fleet', heartbeatSeconds: 30 }, { listen: { address: '::', port: 9000 } });
    const config = parseControllerConfig(await evaluate('controllerConfigUnchecked', host));
    assert.equal(config.listen, '[::]:9000');
    assert.equal(config.stateDir, '/var/lib/fleet');
    assert.equal(config.heartbeatSeconds, 30);
    assert.deepEqual(config.trustedReleaseKeys, [releaseKey]);
    const service = sectionLines(unitText(await evaluateHost(host), 'tsdeploy-controller.service'), 'Service');
    assert.ok(service.includes('StateDirectory=fleet'));
    await assert.rejects(evaluateHost(controllerHost({ listen: '0.0.0.0:80' })), (error: unknown) => {
      assert.ok(error instanceof NixError);
      assert.match(error.stderr, /settings\.listen' is read-only/);
      return true;
    });
  });

  it('passes readTokenFile as a systemd credential, never through the store, and warns about settings.readToken', { skip }, async () => {
    const host = controllerHost({}, { readTokenFile: '/var/lib/tsdeploy-controller-read-token' });
    const summary = await evaluateHost(host);
    assert.deepEqual(summary.failedAssertions, []);
    assert.deepEqual(summary.warnings, []);
    const service = sectionLines(unitText(summary, 'tsdeploy-controller.service'), 'Service');
    assert.ok(service.includes('LoadCredential=read-token:/var/lib/tsdeploy-controller-read-token'));
    assert.ok(!service.some((line) => line.startsWith('SetCredential=')), 'no fallback: the read views never open up because the file is missing');
    const config = parseControllerConfig(await evaluate('controllerConfigUnchecked', host));
    assert.equal(config.readTokenFile, '/run/credentials/tsdeploy-controller.service/read-token');
    assert.equal(config.readToken, undefined);
    const checked = JSON.parse(await readFile(await build('controllerConfig', host), 'utf8')) as Record<string, unknown>;
    assert.equal(checked['readTokenFile'], '/run/credentials/tsdeploy-controller.service/read-token', 'the real check-config accepts it');

    const without = await evaluateHost(controllerHost());
    assert.ok(!sectionLines(unitText(without, 'tsdeploy-controller.service'), 'Service').some((line) => line.startsWith('LoadCredential=')));
    assert.equal(parseControllerConfig(await evaluate('controllerConfigUnchecked', controllerHost())).readTokenFile, undefined);
    const inline = await evaluateHost(controllerHost({ readToken: 'inline-read-token-0123' }));
    assert.match(inline.warnings.join('\n'), /settings\.readToken is written to the Nix store.*set services\.tsdeploy-controller\.readTokenFile instead/);
  });

  it('keeps the old top-level options as renamed aliases of settings, with a warning', { skip }, async () => {
    const host = { services: { 'tsdeploy-controller': { enable: true, trustedReleaseKeys: [releaseKey], stateDir: '/var/lib/old' } } };
    const summary = await evaluateHost(host);
    assert.equal(summary.controllerSettings?.['stateDir'], '/var/lib/old');
    assert.match(summary.warnings.join('\n'), /services\.tsdeploy-controller\.stateDir' .*renamed to `services\.tsdeploy-controller\.settings\.stateDir'/);
    assert.ok(sectionLines(unitText(summary, 'tsdeploy-controller.service'), 'Service').includes('StateDirectory=old'));
  });

  it('checks the controller config at build time with the real tsdeploy-controller check-config', { skip }, async () => {
    parseControllerConfig(JSON.parse(await readFile(await build('controllerConfig', controllerHost()), 'utf8')));
    await assert.rejects(build('controllerConfig', controllerHost({ maxWaitSeconds: 600 })), (error: unknown) => {
      assert.ok(error instanceof NixError);
      assert.match(error.stderr, /maxWaitSeconds/);
      assert.match(error.stderr, /tsdeploy-controller-checked\.json\.drv' failed/);
      return true;
    });
  });
});
