// Air-gapped sites on the fleet lab with real Nix: bundles made centrally (root namespace, no route to the
// lab), carried as directories, imported into a site controller whose /nix-cache/ is the hosts' only
// substituter; altered and replayed bundles refused; a host on a file:// bundle with no controller, and
// its carried reports accepted at the centre.
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseControllerConfig } from '../../controller/config.js';
import { createController, type Controller } from '../../controller/http/server.js';
import { createFileStore } from '../../controller/storage/store.js';
import { decodeEnvelope, encodeEnvelope } from '../../shared/dsse.js';
import { writeFileAtomic } from '../../shared/files.js';
import { formatPublicKey, generateKeyPair, writeKeyPair } from '../../shared/keys.js';
import { silentLogger } from '../../shared/log.js';
import { createLab, hostNixConf, type Lab, type LabHost, type LabProcess } from '../lab/lab.js';
import {
  agentCli,
  journalOf,
  makeReleaseKey,
  startLabController,
  waitFor,
  waitForHostState,
  writeAgentConfig,
  type LabController,
  type ReleaseKey,
} from './harness.js';

import { centralCli, snapshot, type CliResult } from './airgap-harness.js';

describe('air-gapped sites on the lab (real Nix; no systemd as PID 1)', () => {
  let lab: Lab;
  let key: ReleaseKey;
  let site: LabController;
  let cachePublicKey: string;
  let cacheSecretFile: string;
  let centralDir: string;
  let usb: string;
  let siteCache: string;
  let central: Controller | null = null;
  const agents = new Map<string, LabProcess>();
  const systems: Record<string, string> = {};
  const siteHosts = () => lab.hosts.slice(0, 3) as LabHost[];
  const fileHost = () => lab.hosts[3] as LabHost;

  /** `bundle` run centrally, then the directory carried over to the "USB stick" as it is. */
  async function makeBundle(name: string, hosts: Record<string, string>, extra: readonly string[]): Promise<CliResult> {
    const release = join(centralDir, `${name}.json`);
    await writeFileAtomic(release, JSON.stringify({ hosts }));
    const out = join(centralDir, 'bundles', name);
    const result = await centralCli(['bundle', '--release', release, '--key', key.secretFile, '--cache-key', cacheSecretFile, '--out', out, ...extra]);
    assert.equal(result.code, 0, result.stderr);
    await cp(out, join(usb, name), { recursive: true });
    return result;
  }

  before(async () => {
    lab = await createLab({ hosts: 4, name: 'airgap' });
    key = await makeReleaseKey(lab);
    centralDir = join(lab.dir, 'central');
    usb = join(lab.dir, 'usb');
    siteCache = join(lab.dir, 'site-cache');
    await mkdir(centralDir, { recursive: true, mode: 0o700 });
    const cachePair = generateKeyPair(`${lab.id}-bundle-cache-1`);
    cacheSecretFile = (await writeKeyPair(centralDir, cachePair)).secretPath;
    cachePublicKey = formatPublicKey(cachePair.public);
    for (const [name, variant] of [
      ['one-host0', 'good'],
      ['one-host1', 'good'],
      ['one-host2', 'good'],
      ['two', 'good'],
      ['three', 'good'],
      ['direct', 'good'],
    ] as const) {
      systems[name] = await lab.buildSystem(variant, `airgap-${name}`);
    }
    const one = { host0: systems['one-host0'] ?? '', host1: systems['one-host1'] ?? '', host2: systems['one-host2'] ?? '' };
    const all = (path: string) => ({ host0: path, host1: path, host2: path });
    await makeBundle('one', one, ['--version', '1000']);
    await makeBundle('two', all(systems['two'] ?? ''), ['--version', '2000']);
    await makeBundle('three', all(systems['three'] ?? ''), ['--version', '3000']);

    site = await startLabController(lab, key, 8090, { config: { cacheDir: siteCache } });
    // The site's hosts: the site controller's cache is their only substituter, the bundle's key the only key they trust.
    for (const host of siteHosts()) {
      await writeFileAtomic(join(host.dir, 'etc-nix', 'nix.conf'), hostNixConf(`${site.url}/nix-cache`, cachePublicKey));
    }
  });
  after(async () => {
    for (const agent of agents.values()) agent.kill('SIGKILL');
    await central?.close();
    await site?.kill();
    await lab?.teardown();
  });

  it('a bundle made centrally verifies, and real Nix finds every NAR signed by the cache key', async () => {
    const result = await centralCli(['bundle', 'verify', join(usb, 'one'), '--trusted-key', key.publicFile, '--cache-key', cachePublicKey]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /good \(version 1000, .* 3 host\(s\), .*checked by nix store verify\)/);
    const stranger = formatPublicKey(generateKeyPair('stranger-1').public);
    const untrusted = await centralCli(['bundle', 'verify', join(usb, 'one'), '--trusted-key', key.publicFile, '--cache-key', stranger]);
    assert.equal(untrusted.code, 3, 'a cache key that signed nothing in the bundle');
    assert.match(untrusted.stderr, /nix store verify: path '\/nix\/store\/.*' is untrusted/);
  });

  it('three hosts enroll with one-time tokens from the site controller', async () => {
    for (const host of siteHosts()) {
      const config = await writeAgentConfig(host, {
        source: site.url,
        trustedKeys: [key.publicKey],
        controllerCheck: true,
        extra: { enrollmentTokenFile: await site.tokenFileFor(host) },
      });
      agents.set(host.name, host.startAgent(config));
    }
    await waitFor('all three hosts enrolled at the site', async () => {
      const result = await site.cli(['hosts', 'list', '--json', '--config', site.configPath]);
      const { hosts } = JSON.parse(result.stdout) as { hosts: Array<{ status: string }> };
      return hosts.filter((h) => h.status === 'enrolled').length === 3 ? true : undefined;
    });
  });

  it('a bundle imported into the stopped site controller is served under /nix-cache/; three hosts converge from it and report healthy', async () => {
    await site.kill();
    const result = await site.cli(['import', '--config', site.configPath, join(usb, 'one')], 300_000);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /imported bundle version 1000 .* into .*: \d+ cache file\(s\) added/);
    await site.start();
    assert.deepEqual(await lab.infra.httpGet(`${site.url}/nix-cache/nix-cache-info`), { status: 200, body: 'StoreDir: /nix/store\n' });
    assert.equal((await lab.infra.httpGet(`${site.url}/nix-cache/../controller.json`))?.status, 404);
    for (const [index, host] of siteHosts().entries()) {
      const status = await waitForHostState(site, host.name, 'in-sync', 120_000);
      assert.equal(status.current, systems[`one-host${index}`]);
      assert.equal(status.outcome, 'success');
      assert.equal(await host.currentSystem(), systems[`one-host${index}`]);
      assert.deepEqual(await host.healthStatus(), { status: 200, body: `airgap-one-host${index}` });
    }
  });

  it('a newer bundle imported while the site controller runs goes through its API; hosts upgrade and the earlier cache stays', async () => {
    const before = await snapshot(siteCache);
    // With --cache-key, import also has real Nix check every NAR and signature in the bundle first.
    const result = await site.cli(['import', '--config', site.configPath, '--cache-key', cachePublicKey, join(usb, 'two')], 300_000);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /imported bundle version 2000 .* through the running controller/);
    for (const host of siteHosts()) {
      const status = await waitForHostState(site, host.name, 'in-sync', 120_000);
      assert.equal(status.current, systems['two']);
      assert.equal(await host.currentSystem(), systems['two']);
    }
    const afterImport = await snapshot(siteCache);
    for (const [path, bytes] of before) assert.equal(afterImport.get(path), bytes, `${path} from the first bundle is still there`);
  });

  /** Imports `bundle` at the site and checks that it was refused and that nothing at the site or on a host moved. */
  async function refusedImport(bundle: string): Promise<string> {
    const state = { manifests: await snapshot(join(site.stateDir, 'manifests')), cache: await snapshot(siteCache) };
    const result = await site.cli(['import', '--config', site.configPath, bundle], 300_000);
    assert.equal(result.code, 3, `${result.stdout}${result.stderr}`);
    assert.deepEqual(await snapshot(join(site.stateDir, 'manifests')), state.manifests, 'manifests unchanged at the site controller');
    assert.deepEqual(await snapshot(siteCache), state.cache, 'site cache unchanged');
    for (const host of siteHosts()) {
      assert.equal(await host.currentSystem(), systems['two']);
      assert.equal((await journalOf(host)).lastAccepted?.version, 2000);
    }
    return result.stderr;
  }

  it('a bundle with one altered NAR is refused, naming the NAR', async () => {
    const altered = join(usb, 'three-altered-nar');
    await cp(join(usb, 'three'), altered, { recursive: true });
    const narinfo = (await readFile(join(altered, 'cache', `${(systems['three'] ?? '').slice(11, 43)}.narinfo`), 'utf8'));
    const nar = /^URL: (.*)$/m.exec(narinfo)?.[1] ?? '';
    const bytes = await readFile(join(altered, 'cache', nar));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(join(altered, 'cache', nar), bytes);
    const stderr = await refusedImport(altered);
    assert.match(stderr, new RegExp(`altered: cache/${nar.replace(/\./g, '\\.')} \\(sha256 differs from the index\\)`));
  });

  it('a bundle with an altered manifest is refused, naming the manifest', async () => {
    const altered = join(usb, 'three-altered-manifest');
    await cp(join(usb, 'three'), altered, { recursive: true });
    const path = join(altered, 'v1', 'hosts', 'host1', 'manifest');
    const envelope = decodeEnvelope(await readFile(path));
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { storePath: string };
    payload.storePath = systems['one-host1'] ?? '';
    await writeFile(path, encodeEnvelope({ ...envelope, payload: Buffer.from(JSON.stringify(payload)).toString('base64') }));
    const stderr = await refusedImport(altered);
    assert.match(stderr, /altered: v1\/hosts\/host1\/manifest \(\d+ bytes, the index says \d+\)/);
    assert.match(stderr, /refused: v1\/hosts\/host1\/manifest: bad or too few signatures/);
  });

  it('an older bundle replayed after a newer one is refused as a replay', async () => {
    const stderr = await refusedImport(join(usb, 'one'));
    assert.match(stderr, /bundle version 1000 is older than the last imported bundle \(version 2000\): a replayed bundle/);
  });

  it('no site host changed after the refused bundles', async () => {
    for (const host of siteHosts()) {
      const status = await waitForHostState(site, host.name, 'in-sync');
      assert.equal(status.desired?.version, 2000);
      assert.equal(await host.currentSystem(), systems['two']);
      assert.equal((await host.profileGenerations()).length, 2);
    }
  });

  let directConfig: string;

  it('a host on a file:// source converges from the carried bundle with no controller (default version: seconds since the epoch)', async () => {
    const startedAt = Math.floor(Date.now() / 1000);
    const made = await makeBundle('direct', { host3: systems['direct'] ?? '' }, []);
    const version = Number(/version (\d+)/.exec(made.stdout)?.[1]);
    assert.ok(version >= startedAt && version <= Math.floor(Date.now() / 1000), `version ${version} is the creation time in seconds`);
    const host = fileHost();
    const bundle = join(usb, 'direct');
    await writeFileAtomic(join(host.dir, 'etc-nix', 'nix.conf'), hostNixConf(`file://${bundle}/cache`, cachePublicKey));
    directConfig = await writeAgentConfig(host, { source: `file://${bundle}`, trustedKeys: [key.publicKey] });
    const result = await agentCli(host, ['once', '--config', directConfig]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await host.currentSystem(), systems['direct']);
    assert.deepEqual(await host.healthStatus(), { status: 200, body: 'airgap-direct' });
    assert.equal((await journalOf(host)).lastAccepted?.version, version);
  });

  it("its exported reports are accepted at the centre after the host's signature is checked, once", async () => {
    const host = fileHost();
    const stateDir = join(centralDir, 'controller');
    const config = parseControllerConfig({ listen: '127.0.0.1:0', stateDir, trustedReleaseKeys: [key.publicKey] });
    central = await createController({ config, store: createFileStore(stateDir, config.reports), logger: silentLogger() });
    const { port } = await central.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${port}`;

    // The host's public key is carried to the centre with its reports; the operator enrolls it there.
    const publicKey = (await agentCli(host, ['pubkey', '--config', directConfig])).stdout.trim();
    const approved = await centralCli(['hosts', 'approve', host.name, '--key', publicKey, '--state-dir', stateDir]);
    assert.equal(approved.code, 0, approved.stderr);

    const exported = join(host.dir, 'reports.jsonl');
    const exportResult = await agentCli(host, ['reports', 'export', '--config', directConfig, '--out', exported]);
    assert.equal(exportResult.code, 0, exportResult.stderr);
    const carried = join(centralDir, 'reports-host3.jsonl');
    await cp(exported, carried);
    const lines = (await readFile(carried, 'utf8')).split('\n').filter((line) => line !== '');
    assert.ok(lines.length >= 2, 'the deployment queued several reports');

    const imported = await centralCli(['reports', 'import', carried, '--state-dir', stateDir, '--controller', url]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`through the running controller: ${lines.length} accepted, 0 duplicate, 0 refused`));
    const row = (await central.status()).hosts.find((h) => h.host === host.name);
    assert.equal(row?.current, systems['direct']);
    assert.equal(row?.phase, 'confirmed');
    await central.close();
    central = null;

    const again = await centralCli(['reports', 'import', carried, '--state-dir', stateDir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`into ${stateDir}: 0 accepted, ${lines.length} duplicate, 0 refused`));

    const forged = join(centralDir, 'forged.jsonl');
    const envelope = decodeEnvelope(Buffer.from(lines[lines.length - 1] ?? ''));
    const report = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { seq: number; currentSystem: string };
    const changed = { ...report, seq: report.seq + 100, currentSystem: systems['three'] };
    await writeFile(forged, `${JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(changed)).toString('base64') })}\n`);
    const refused = await centralCli(['reports', 'import', forged, '--state-dir', stateDir]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /refused: report is not signed by the key enrolled for host3/);
    assert.match(refused.stdout, /0 accepted, 0 duplicate, 1 refused/);
  });
});
