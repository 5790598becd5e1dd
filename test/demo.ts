// `npm run demo`: a controller and three NixOS-shaped hosts on the fleet lab with real Nix. It enrolls
// the agents, publishes a release, shows the fleet converge, breaks one host on purpose, shows the
// rollback, and cleans up (also on Ctrl-C).
import { join } from 'node:path';
import { writeFileAtomic } from '../shared/files.js';
import { createLab, type Lab, type LabProcess } from './lab/lab.js';
import { makeReleaseKey, startLabController, waitFor, waitForHostState, writeAgentConfig, type LabController } from './e2e/harness.js';

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => say(`\n==> ${text}`);

async function demo(lab: Lab): Promise<void> {
  step('Release key (kept by the operator; the controller only gets the public half)');
  const key = await makeReleaseKey(lab);
  say(`    ${key.publicKey}`);

  step(`Controller in the lab's infra namespace`);
  const controller: LabController = await startLabController(lab, key);
  say(`    ${controller.url}  (state in ${controller.stateDir})`);

  step('Agents on host0, host1, host2, each enrolling with a one-time token');
  const agents: LabProcess[] = [];
  for (const host of lab.hosts) {
    const config = await writeAgentConfig(host, {
      source: controller.url,
      trustedKeys: [key.publicKey],
      controllerCheck: true,
      extra: { enrollmentTokenFile: await controller.tokenFileFor(host), logLevel: 'info' },
    });
    agents.push(host.startAgent(config));
    say(`    ${host.name} (${host.address}): empty /nix; its Nix trusts only the lab cache key`);
  }
  await waitFor('the three agents to enroll', async () => {
    const result = await controller.cli(['hosts', 'list', '--json', '--config', controller.configPath]);
    const { hosts } = JSON.parse(result.stdout) as { hosts: Array<{ status: string }> };
    return hosts.filter((h) => h.status === 'enrolled').length === 3 ? true : undefined;
  });
  say((await controller.cli(['hosts', 'list', '--config', controller.configPath])).stdout.trimEnd());

  step('Building one system per host with nix-build and pushing it to the signed binary cache');
  const release: Record<string, string> = {};
  for (const host of lab.hosts) release[host.name] = await lab.buildSystem('good', `demo-${host.name}-1`);
  for (const [host, path] of Object.entries(release)) say(`    ${host}: ${path}`);
  const releaseFile = join(lab.dir, 'release.json');
  await writeFileAtomic(releaseFile, `${JSON.stringify({ hosts: release }, null, 2)}\n`);

  step(`tsdeploy-controller publish --release release.json`);
  const published = await controller.cli(['publish', '--controller', controller.url, '--key', key.secretFile, '--release', releaseFile]);
  say(published.stdout.trimEnd() || published.stderr.trimEnd());
  for (const host of lab.hosts) await waitForHostState(controller, host.name, 'in-sync', 180_000);
  say('    all three hosts substituted their closures, switched, passed their health checks and reported in-sync');
  say((await controller.cli(['status', '--controller', controller.url])).stdout.trimEnd());

  step('Publishing a broken system to host1 (its switch-to-configuration fails)');
  const broken = await lab.buildSystem('broken', 'demo-host1-2');
  const publishedBroken = await controller.publish(key, 'host1', broken);
  say(publishedBroken.stdout.trimEnd() || publishedBroken.stderr.trimEnd());
  const rolled = await waitForHostState(controller, 'host1', 'rolled-back', 180_000);
  say(`    host1 rolled itself back: ${rolled.error ?? ''}`);
  say(`    host1 runs ${(await lab.hosts[1]?.currentSystem()) ?? '?'} again, and its service answers ${(await lab.hosts[1]?.healthStatus())?.status ?? '?'}`);

  step('Fleet status');
  say((await controller.cli(['status', '--controller', controller.url])).stdout.trimEnd());

  step('Where to look next');
  say('    README.md: "Deploying a fleet" (NixOS module), "Agent" (config, journal, reports), "Controller" (API, CLI)');
  say('    npm test: the agent, controller, crash and air-gap suites on this same lab');
  for (const agent of agents) agent.kill('SIGTERM');
  await controller.kill('SIGTERM');
}

const lab = await createLab({ hosts: 3, name: 'demo' }).catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
say(`Fleet lab ${lab.id}: 3 hosts, a controller node and a signed binary cache in private namespaces (${lab.dir})`);
try {
  await demo(lab);
  say('\nDemo finished; cleaning up the lab.');
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await lab.teardown();
}
