// A systemd lab owner meant to be killed with SIGKILL: boots one systemd host with a running service, prints its ids, and waits.
import { createLab } from './lab.js';

const lab = await createLab({ hosts: 1, name: 'sd-crash', kind: 'systemd' });
const host = lab.hosts[0];
if (host === undefined) throw new Error('no host');
const system = await lab.buildSystem('good', `sd-crash-${lab.id}`);
for (const argv of [
  ['nix-store', '--realise', system],
  ['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', system],
  [`${system}/bin/switch-to-configuration`, 'switch'],
]) {
  const result = await host.exec(argv);
  if (result.code !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr}`);
}
process.stdout.write(`${JSON.stringify({ id: lab.id, dir: lab.dir, initPid: host.initPid() })}\n`);
setInterval(() => undefined, 1 << 30);
