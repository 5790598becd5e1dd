// The systemd stand-ins are as strict as NixOS, and the agent unit is rendered byte for byte as the lab runs it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { agentHost, controllerHost, evaluate, evaluateHost, goldenUnitPath, NixError, skip, unitText, type HostConfig } from './nix-eval.js';
import { RENDER_COMMAND } from './rendered-inputs.js';

const run = promisify(execFile);

/** The agent's unit as a second module would change it. */
function withAgentUnit(unit: Record<string, unknown>): HostConfig[] {
  return [agentHost(), { systemd: { services: { 'tsdeploy-agent': unit } } }];
}

async function systemdAnalyze(): Promise<boolean> {
  return run('systemd-analyze', ['--version']).then(
    () => true,
    () => false,
  );
}

/** What `systemd-analyze verify` says about a unit text (ExecStart made runnable here); '' when it has no complaint. */
async function verify(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsdeploy-unit-'));
  try {
    const file = join(dir, name);
    await writeFile(file, text.replace(/^ExecStart=.*$/m, 'ExecStart=/bin/true'));
    const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', file]).catch((error: unknown) => {
      const failed = error as { stdout?: string; stderr?: string };
      return { stdout: failed.stdout ?? '', stderr: `${failed.stderr ?? ''}\nexited non-zero` };
    });
    return `${stdout}${stderr}`.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('systemd units as NixOS types and renders them (stand-ins after nixos/lib/systemd-lib.nix)', () => {
  it('renders the agent unit of rendered/lab-host.nix byte for byte as rendered/tsdeploy-agent.service', { skip }, async () => {
    assert.deepEqual(await evaluate('goldenFailedAssertions'), []);
    const rendered = (await evaluate('goldenUnit')) as string;
    const golden = await readFile(goldenUnitPath, 'utf8');
    assert.equal(rendered, golden, `the module renders another unit: check the change, then run ${RENDER_COMMAND}`);
  });

  const token = { enrollmentTokenFile: '/var/lib/tsdeploy-agent-token' };
  const wrong: Array<[string, HostConfig[], RegExp]> = [
    ['a wantedBy unit name without its suffix', withAgentUnit({ wantedBy: ['multi-user'] }), /wantedBy/],
    ['an after unit name without its suffix', withAgentUnit({ after: ['network-online'] }), /after/],
    ['a misspelt service Type', withAgentUnit({ serviceConfig: { Type: 'forkin' } }), /serviceConfig/],
    ['a Restart value systemd does not know', withAgentUnit({ serviceConfig: { Restart: 'sometimes' } }), /serviceConfig/],
    [
      'a key given both as a list and as a single value',
      [agentHost({}, token), { systemd: { services: { 'tsdeploy-agent': { serviceConfig: { LoadCredential: 'other:/etc/other' } } } } }],
      /LoadCredential/,
    ],
  ];
  for (const [what, modules, option] of wrong) {
    it(`refuses to evaluate ${what}`, { skip }, async () => {
      await assert.rejects(evaluateHost(modules), (error: unknown) => {
        assert.ok(error instanceof NixError);
        assert.match(error.stderr, option);
        return true;
      });
    });
  }

  it('accepts the values systemd accepts (Type=notify, an alias with its suffix)', { skip }, async () => {
    const summary = await evaluateHost(withAgentUnit({ serviceConfig: { Type: 'notify' }, aliases: ['tsdeploy.service'] }));
    const text = unitText(summary, 'tsdeploy-agent.service');
    assert.match(text, /^Type=notify$/m);
  });

  it('renders units that systemd-analyze verify accepts without a complaint', { skip }, async (t) => {
    if (!(await systemdAnalyze())) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    assert.equal(await verify('tsdeploy-agent.service', await readFile(goldenUnitPath, 'utf8')), '');
    const controller = unitText(await evaluateHost(controllerHost()), 'tsdeploy-controller.service');
    assert.equal(await verify('tsdeploy-controller.service', controller), '');
    // Why the fallback is a newline: systemd ignores an empty SetCredential value.
    const empty = (await readFile(goldenUnitPath, 'utf8')).replace('SetCredential=enrollment-token:\\n', 'SetCredential=enrollment-token:');
    assert.match(await verify('tsdeploy-agent.service', empty), /Invalid syntax, ignoring: enrollment-token:/);
  });
});
