// Self-restart: only when the new system changed the agent's own unit.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentUnitChanged } from '../../agent/daemon/self-restart.js';


describe('self-update after a switch', () => {
  it('exits only when the new system changed the agent\'s own unit', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tsdeploy-unit-'));
    const system = async (name: string, unit: string | null) => {
      const dir = join(root, name);
      await mkdir(join(dir, 'etc/systemd/system'), { recursive: true });
      if (unit !== null) await writeFile(join(dir, 'etc/systemd/system/tsdeploy-agent.service'), unit);
      return dir;
    };
    const a = await system('a', 'ExecStart=/nix/store/aaa/bin/tsdeploy-agent');
    const b = await system('b', 'ExecStart=/nix/store/bbb/bin/tsdeploy-agent');
    const none = await system('none', null);
    assert.equal(await agentUnitChanged(a, b), true);
    assert.equal(await agentUnitChanged(a, a), false);
    assert.equal(await agentUnitChanged(null, b), false);
    assert.equal(await agentUnitChanged(none, join(root, 'none')), false);
    assert.equal(await agentUnitChanged(none, a), true);
  });
});
