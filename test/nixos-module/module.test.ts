// The NixOS modules evaluated with nixpkgs' real lib.evalModules; NixOS options and pkgs are stand-ins (see their files).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AgentConfigSchema, HealthCheckSchema } from '../../agent/config.js';
import { parseControllerConfig } from '../../controller/config.js';
import { CommandExitError, runCommand } from '../../shared/command.js';
import { formatPublicKey, generateKeyPair } from '../../shared/keys.js';

const nixpkgsLib = process.env['TSDEPLOY_NIXPKGS_LIB'];
const skip =
  nixpkgsLib === undefined || nixpkgsLib === ''
    ? 'TSDEPLOY_NIXPKGS_LIB is not set: point it at a nixpkgs lib directory (nixpkgs/lib, or lib/ of nix-community/nixpkgs.lib) to evaluate the NixOS modules'
    : false;

const repo = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const evalNix = join(repo, 'test/nixos-module/eval.nix');
/** Every run rebuilds the tsdeploy stand-in, which reads this checkout from outside the store. */
const nonce = randomUUID();

const releaseKey = formatPublicKey(generateKeyPair('release-1').public);
const otherReleaseKey = formatPublicKey(generateKeyPair('release-2').public);
const cacheKey = formatPublicKey(generateKeyPair('cache-1').public);

interface Unit {
  readonly description: string;
  readonly wantedBy: readonly string[];
  readonly wants: readonly string[];
  readonly after: readonly string[];
  readonly path: readonly string[];
  readonly environment: Readonly<Record<string, string | null>>;
  readonly restartIfChanged: boolean;
  readonly serviceConfig: Readonly<Record<string, unknown>>;
  readonly unitConfig: Readonly<Record<string, unknown>>;
}

interface HostSummary {
  readonly failedAssertions: readonly string[];
  readonly warnings: readonly string[];
  readonly services: Readonly<Record<string, Unit>>;
  readonly nixSettings: Readonly<Record<string, unknown>>;
  readonly firewallTCPPorts: readonly number[];
  readonly etc: Readonly<Record<string, string>>;
  readonly systemPackages: readonly string[];
  readonly standIns: { readonly nix: string; readonly systemd: string; readonly tsdeploy: string };
}

type HostConfig = Record<string, unknown>;

function nixArgs(hostConfig: HostConfig): string[] {
  const args: Record<string, string> = {
    nixpkgsLib: nixpkgsLib ?? '',
    repo,
    node: process.execPath,
    tsxLoader: import.meta.resolve('tsx'),
    nonce,
    hostConfig: JSON.stringify(hostConfig),
  };
  return Object.entries(args).flatMap(([name, value]) => ['--argstr', name, value]);
}

/** `nix-instantiate --eval --strict --json` of one attribute of eval.nix. */
async function evaluate(attribute: string, hostConfig: HostConfig = {}, readWrite = false): Promise<unknown> {
  const { stdout } = await runCommand({
    argv: [
      'nix-instantiate',
      '--eval',
      '--strict',
      '--json',
      ...(readWrite ? ['--read-write-mode'] : []),
      evalNix,
      '-A',
      attribute,
      ...nixArgs(hostConfig),
    ],
    timeoutMs: 120_000,
  });
  return JSON.parse(stdout) as unknown;
}

async function evaluateHost(hostConfig: HostConfig, attribute = 'host'): Promise<HostSummary> {
  return (await evaluate(attribute, hostConfig)) as HostSummary;
}

/** Builds one attribute of eval.nix with nix-build and returns its output path. */
async function build(attribute: string, hostConfig: HostConfig): Promise<string> {
  const { stdout } = await runCommand({
    argv: ['nix-build', '--no-out-link', evalNix, '-A', attribute, ...nixArgs(hostConfig)],
    timeoutMs: 300_000,
  });
  return stdout.trim().split('\n').pop() ?? '';
}

async function buildJson(attribute: string, hostConfig: HostConfig): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(await build(attribute, hostConfig), 'utf8')) as Record<string, unknown>;
}

function unit(summary: HostSummary, name: string): Unit {
  const found = summary.services[name];
  assert.ok(found !== undefined, `no systemd.services.${name}`);
  return found;
}

function agentHost(agent: Record<string, unknown> = {}, rest: HostConfig = {}): HostConfig {
  return {
    ...rest,
    services: {
      'tsdeploy-agent': { enable: true, source: 'https://deploy.example.org', trustedKeys: [releaseKey], ...agent },
    },
  };
}

function controllerHost(controller: Record<string, unknown> = {}): HostConfig {
  return { services: { 'tsdeploy-controller': { enable: true, trustedReleaseKeys: [releaseKey], ...controller } } };
}

describe('NixOS module services.tsdeploy-agent (nixpkgs lib; NixOS options and pkgs are stand-ins)', () => {
  it('checks that TSDEPLOY_NIXPKGS_LIB is a nixpkgs lib directory', { skip }, () => {
    assert.ok(existsSync(join(nixpkgsLib ?? '', 'default.nix')), `${nixpkgsLib ?? ''}/default.nix does not exist`);
  });

  it('runs the agent as root, and switch-to-configuration neither restarts nor stops it (as system.autoUpgrade)', { skip }, async () => {
    const summary = await evaluateHost(
      agentHost({}, { nix: { envVars: { NIX_REMOTE: 'daemon' } }, networking: { proxy: { envVars: { https_proxy: 'http://proxy:3128' } } } }),
    );
    assert.deepEqual(summary.failedAssertions, []);
    const agent = unit(summary, 'tsdeploy-agent');
    assert.deepEqual(agent.wantedBy, ['multi-user.target']);
    assert.deepEqual(agent.wants, ['network-online.target']);
    assert.deepEqual(agent.after, ['network-online.target']);
    assert.equal(agent.restartIfChanged, false);
    assert.equal(agent.unitConfig['X-StopOnRemoval'], false);
    assert.equal(agent.serviceConfig['Restart'], 'always');
    assert.equal(typeof agent.serviceConfig['RestartSec'], 'number');
    assert.equal(agent.serviceConfig['StateDirectory'], 'tsdeploy-agent');
    assert.equal(agent.serviceConfig['User'], undefined);
    assert.equal(agent.serviceConfig['DynamicUser'], undefined);
    assert.deepEqual(agent.path, [summary.standIns.nix, summary.standIns.systemd]);
    assert.deepEqual(agent.environment, { NIX_REMOTE: 'daemon', https_proxy: 'http://proxy:3128' });
    const checked = summary.etc['tsdeploy/agent.json'];
    assert.ok(checked?.endsWith('-tsdeploy-agent-checked.json'));
    assert.equal(agent.serviceConfig['ExecStart'], `${summary.standIns.tsdeploy}/bin/tsdeploy-agent run --config ${checked}`);
    assert.ok(summary.systemPackages.includes(summary.standIns.tsdeploy));
  });

  it('defaults host to networking.hostName', { skip }, async () => {
    const config = await buildJson('agentConfig', agentHost({}, { networking: { hostName: 'web-7' } }));
    assert.equal(config['host'], 'web-7');
  });

  it('passes the enrollment token with LoadCredential and points the config at the credential, not the store', { skip }, async () => {
    const host = agentHost({ enrollmentTokenFile: '/run/keys/tsdeploy-token' });
    const agent = unit(await evaluateHost(host), 'tsdeploy-agent');
    assert.deepEqual(agent.serviceConfig['LoadCredential'], ['enrollment-token:/run/keys/tsdeploy-token']);
    const config = await buildJson('agentConfig', host);
    assert.equal(config['enrollmentTokenFile'], '/run/credentials/tsdeploy-agent.service/enrollment-token');

    const without = unit(await evaluateHost(agentHost()), 'tsdeploy-agent');
    assert.equal(without.serviceConfig['LoadCredential'], undefined);
  });

  it('adds the cache substituters and keys to nix.settings extra-substituters and extra-trusted-public-keys', { skip }, async () => {
    const summary = await evaluateHost(
      agentHost({ cache: { substituters: ['https://cache.example.org'], trustedPublicKeys: [cacheKey] } }),
    );
    assert.deepEqual(summary.nixSettings['extra-substituters'], ['https://cache.example.org']);
    assert.deepEqual(summary.nixSettings['extra-trusted-public-keys'], [cacheKey]);
    assert.deepEqual(summary.warnings, []);

    const plain = await evaluateHost(agentHost());
    assert.equal(plain.nixSettings['extra-substituters'], undefined);
    assert.equal(plain.nixSettings['extra-trusted-public-keys'], undefined);
  });

  it('warns when cache substituters come without trusted public keys', { skip }, async () => {
    const summary = await evaluateHost(agentHost({ cache: { substituters: ['https://cache.example.org'] } }));
    assert.equal(summary.warnings.length, 1);
    assert.match(summary.warnings[0] ?? '', /cache\.trustedPublicKeys is empty/);
  });

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an empty trustedKeys', { trustedKeys: [] }, /trustedKeys is empty/],
    ['a threshold above the distinct trusted keys', { trustedKeys: [releaseKey, releaseKey], threshold: 2 }, /threshold is 2, but trustedKeys has only 1 distinct/],
    ['an enrollment token file in the Nix store', { enrollmentTokenFile: '/nix/store/00000000000000000000000000000000-token' }, /outside the Nix store/],
    ['a relative enrollment token file', { enrollmentTokenFile: 'token' }, /absolute path outside the Nix store/],
  ];
  for (const [what, agent, message] of refused) {
    it(`fails an assertion for ${what}`, { skip }, async () => {
      const summary = await evaluateHost(agentHost(agent));
      assert.equal(summary.failedAssertions.length, 1, summary.failedAssertions.join('\n'));
      assert.match(summary.failedAssertions[0] ?? '', message);
    });
  }

  it('writes a config that the real tsdeploy-agent check-config accepts, checked at build time by the module', { skip }, async () => {
    const host = agentHost({
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
      enrollmentTokenFile: '/run/keys/token',
    });
    const path = await build('agentConfig', host);
    const { stdout } = await runCommand({ argv: [process.execPath, '--import', 'tsx', join(repo, 'agent/main.ts'), 'check-config', path], cwd: repo });
    assert.match(stdout, /: ok \(host nixos, source https:\/\/deploy\.example\.org\)/);

    const config = AgentConfigSchema.parse(JSON.parse(await readFile(path, 'utf8')));
    assert.equal(config.threshold, 2);
    assert.equal(config.poll.cron, '*/5 * * * *');
    assert.equal(config.health.timeoutSeconds, 300);
    assert.equal(config.rollback.onControllerUnreachable, false);
    assert.deepEqual(
      config.health.checks.map((check) => check.type),
      ['http', 'tcp', 'command', 'systemd', 'controller'],
    );
    assert.deepEqual(config.health.checks[0], {
      type: 'http',
      name: 'web',
      url: 'http://127.0.0.1:8080/health',
      expectStatus: 204,
      timeoutSeconds: 5,
    });
  });

  it('fails the system build when the agent would refuse the config', { skip }, async () => {
    const host = agentHost({ health: { checks: [{ http: { url: 'ftp://127.0.0.1/health' } }] } });
    await assert.rejects(build('agentConfig', host), (error: unknown) => {
      assert.ok(error instanceof CommandExitError);
      assert.match(error.stderr, /health\.checks\.0\.url: must be an http\(s\) URL/);
      assert.match(error.stderr, /tsdeploy-agent-checked\.json\.drv' failed/);
      return true;
    });
  });

  it("gives every typed option the agent's own default", { skip }, async () => {
    const checks = [
      { http: { url: 'http://127.0.0.1/' } },
      { tcp: { host: '127.0.0.1', port: 22 } },
      { command: { argv: ['/bin/true'] } },
      { systemd: {} },
      { controller: {} },
    ];
    const written = await buildJson('agentConfig', agentHost({ health: { checks } }));
    const defaults = AgentConfigSchema.parse({
      host: written['host'],
      source: written['source'],
      trustedKeys: written['trustedKeys'],
    });
    for (const key of ['threshold', 'stateDir', 'poll', 'rollback'] as const) {
      assert.deepEqual(written[key], defaults[key], key);
    }
    const health = written['health'] as Record<string, unknown>;
    assert.equal(health['timeoutSeconds'], defaults.health.timeoutSeconds);
    assert.equal(health['stableSeconds'], defaults.health.stableSeconds);
    const agentDefaults = [
      { type: 'http', url: 'http://127.0.0.1/' },
      { type: 'tcp', host: '127.0.0.1', port: 22 },
      { type: 'command', argv: ['/bin/true'] },
      { type: 'systemd' },
      { type: 'controller' },
    ].map((check) => HealthCheckSchema.parse(check));
    assert.deepEqual(health['checks'], agentDefaults);
  });

  it('merges settings over the typed options, attribute by attribute', { skip }, async () => {
    const written = await buildJson(
      'agentConfig',
      agentHost({ poll: { intervalSeconds: 30 }, settings: { logLevel: 'debug', poll: { jitterSeconds: 0 }, reports: { queueLimit: 50 } } }),
    );
    assert.equal(written['logLevel'], 'debug');
    assert.deepEqual(written['poll'], { intervalSeconds: 30, jitterSeconds: 0, waitSeconds: 50 });
    assert.deepEqual(written['reports'], { queueLimit: 50 });
  });

  it('leaves the host untouched when not enabled', { skip }, async () => {
    const summary = await evaluateHost({});
    assert.deepEqual(summary.services, {});
    assert.deepEqual(summary.etc, {});
    assert.deepEqual(summary.failedAssertions, []);
  });
});

describe('NixOS module services.tsdeploy-controller (nixpkgs lib; NixOS options and pkgs are stand-ins)', () => {
  it('hardens the controller unit as nixpkgs hardens atticd', { skip }, async () => {
    const summary = await evaluateHost(controllerHost());
    assert.deepEqual(summary.failedAssertions, []);
    const controller = unit(summary, 'tsdeploy-controller');
    assert.deepEqual(controller.wantedBy, ['multi-user.target']);
    const expected: Record<string, unknown> = {
      DynamicUser: true,
      StateDirectory: 'tsdeploy-controller',
      ProtectSystem: 'strict',
      ProtectHome: true,
      PrivateTmp: true,
      NoNewPrivileges: true,
      CapabilityBoundingSet: [''],
      RestrictAddressFamilies: ['AF_INET', 'AF_INET6', 'AF_UNIX'],
      SystemCallFilter: ['@system-service'],
      UMask: '0077',
    };
    for (const [name, value] of Object.entries(expected)) assert.deepEqual(controller.serviceConfig[name], value, name);
    const checked = summary.etc['tsdeploy/controller.json'];
    assert.ok(checked?.endsWith('-tsdeploy-controller-checked.json'));
    assert.equal(
      controller.serviceConfig['ExecStart'],
      `${summary.standIns.tsdeploy}/bin/tsdeploy-controller serve --config ${checked}`,
    );
  });

  it('opens the firewall only when openFirewall is set', { skip }, async () => {
    assert.deepEqual((await evaluateHost(controllerHost({ listen: { port: 9000 } }))).firewallTCPPorts, []);
    const opened = await evaluateHost(controllerHost({ listen: { port: 9000 }, openFirewall: true }));
    assert.deepEqual(opened.firewallTCPPorts, [9000]);
  });

  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an empty trustedReleaseKeys', { trustedReleaseKeys: [] }, /trustedReleaseKeys is empty/],
    ['a releaseThreshold above the distinct keys', { releaseThreshold: 2 }, /releaseThreshold is 2, but trustedReleaseKeys has only 1/],
    ['a state directory outside /var/lib', { stateDir: '/srv/tsdeploy' }, /stateDir must be a directory under \/var\/lib/],
    ['a port below 1024', { listen: { port: 80 } }, /listen\.port must be 1024 or above/],
  ];
  for (const [what, controller, message] of refused) {
    it(`fails an assertion for ${what}`, { skip }, async () => {
      const summary = await evaluateHost(controllerHost(controller));
      assert.equal(summary.failedAssertions.length, 1, summary.failedAssertions.join('\n'));
      assert.match(summary.failedAssertions[0] ?? '', message);
    });
  }

  it("writes a config that the controller's schema accepts, with an IPv6 listen address in brackets", { skip }, async () => {
    const written = await evaluate(
      'controllerConfigUnchecked',
      controllerHost({ listen: { address: '::', port: 9000 }, stateDir: '/var/lib/fleet', settings: { heartbeatSeconds: 30 } }),
    );
    const config = parseControllerConfig(written);
    assert.equal(config.listen, '[::]:9000');
    assert.equal(config.stateDir, '/var/lib/fleet');
    assert.equal(config.heartbeatSeconds, 30);
    assert.deepEqual(config.trustedReleaseKeys, [releaseKey]);
    const controller = unit(await evaluateHost(controllerHost({ stateDir: '/var/lib/fleet' })), 'tsdeploy-controller');
    assert.equal(controller.serviceConfig['StateDirectory'], 'fleet');
  });

  it('checks the controller config at build time with the real tsdeploy-controller check-config', { skip }, async () => {
    const path = await build('controllerConfig', controllerHost());
    parseControllerConfig(JSON.parse(await readFile(path, 'utf8')));
    await assert.rejects(build('controllerConfig', controllerHost({ settings: { maxWaitSeconds: 600 } })), (error: unknown) => {
      assert.ok(error instanceof CommandExitError);
      assert.match(error.stderr, /maxWaitSeconds/);
      assert.match(error.stderr, /tsdeploy-controller-checked\.json\.drv' failed/);
      return true;
    });
  });
});

describe('flake and package (nixpkgs lib; the nixpkgs input and buildNpmPackage are stand-ins)', () => {
  it('exports packages for x86_64-linux and aarch64-linux, overlays.default and three NixOS modules', { skip }, async () => {
    const flake = (await evaluate('flake')) as {
      outputs: string[];
      packages: Record<string, string[]>;
      nixosModules: Record<string, string>;
      overlayPackage: string;
    };
    assert.deepEqual(flake.packages, { 'aarch64-linux': ['default', 'tsdeploy'], 'x86_64-linux': ['default', 'tsdeploy'] });
    assert.ok(flake.outputs.includes('overlays'));
    assert.equal(flake.overlayPackage, 'tsdeploy-0.1.0');
    assert.deepEqual(flake.nixosModules, {
      agent: join(repo, 'nixos-module/agent.nix'),
      controller: join(repo, 'nixos-module/controller.nix'),
      default: join(repo, 'nixos-module'),
    });
  });

  it('nixosModules.agent works without the controller module', { skip }, async () => {
    const summary = await evaluateHost(agentHost(), 'agentModuleAlone');
    assert.deepEqual(summary.failedAssertions, []);
    assert.deepEqual(Object.keys(summary.services), ['tsdeploy-agent']);
  });

  it('gives importNpmLock a registry URL for every locked package, which the lock file leaves out', { skip }, async () => {
    const pkg = (await evaluate('package', {}, true)) as {
      lockPackages: Record<string, { version?: string; resolved?: string; integrity?: string; name?: string }>;
    };
    const entries = Object.entries(pkg.lockPackages).filter(([key]) => key !== '');
    assert.ok(entries.length > 0);
    for (const [key, module] of entries) {
      const name = module.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      const base = name.slice(name.lastIndexOf('/') + 1);
      assert.equal(module.resolved, `https://registry.npmjs.org/${name}/-/${base}-${module.version ?? '?'}.tgz`, key);
      assert.match(module.integrity ?? '', /^sha512-/, key);
    }
  });

  it('builds from a source holding only what npm run build reads, and installs both programs', { skip }, async () => {
    const pkg = (await evaluate('package', {}, true)) as {
      src: string;
      npmRoot: string;
      npmConfigHook: string;
      npmRebuildFlags: string[];
      installCheckPhase: string;
      meta: { mainProgram: string };
    };
    assert.equal(pkg.npmRoot, pkg.src);
    assert.equal(pkg.npmConfigHook, 'importNpmLock.npmConfigHook-stand-in');
    assert.deepEqual(pkg.npmRebuildFlags, ['--ignore-scripts']);
    assert.equal(pkg.meta.mainProgram, 'tsdeploy-agent');
    assert.match(pkg.installCheckPhase, /tsdeploy-agent --help/);
    assert.match(pkg.installCheckPhase, /tsdeploy-controller --help/);
    const top = (await readdir(pkg.src)).sort();
    assert.deepEqual(top, ['agent', 'controller', 'package-lock.json', 'package.json', 'shared', 'tsconfig.build.json', 'tsconfig.json']);
    const files = await readdir(pkg.src, { recursive: true });
    assert.ok(files.includes(join('agent', 'main.ts')));
    assert.ok(!files.some((file) => file.endsWith('.test.ts') || file.includes('node_modules')));
  });
});
