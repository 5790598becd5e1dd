import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkName, judgeSystemd, runChecks, parseFailedUnits, parseSystemRunning } from '../../agent/health-checks.js';
import { failureReason, judgeRound, onlyControllerFailed } from '../../agent/health-window.js';
import { mountFor } from '../../agent/facts.js';
import {
  dryRunArgs,
  parseDryRun,
  parseGenerationLink,
  realiseArgs,
  setProfileArgs,
  switchArgs,
  switchGenerationArgs,
} from '../../agent/nix.js';
import { manifestUrl } from '../../agent/source.js';
import { agentUnitChanged } from '../../agent/runtime.js';

const P = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1';

describe('nix argv builders', () => {
  it('realises with a GC root held by the agent and no options from anywhere else', () => {
    assert.deepEqual(realiseArgs(P, '/var/lib/tsdeploy-agent/gcroots/desired'), [
      'nix-store',
      '--realise',
      P,
      '--add-root',
      '/var/lib/tsdeploy-agent/gcroots/desired',
    ]);
  });
  it('dry-runs the realisation for the pre-flight', () => {
    assert.deepEqual(dryRunArgs(P), ['nix-store', '--realise', '--dry-run', P]);
  });
  it('sets the system profile and switches generations by number', () => {
    assert.deepEqual(setProfileArgs('/nix/var/nix/profiles/system', P), ['nix-env', '--profile', '/nix/var/nix/profiles/system', '--set', P]);
    assert.deepEqual(switchGenerationArgs('/nix/var/nix/profiles/system', 4), [
      'nix-env',
      '--profile',
      '/nix/var/nix/profiles/system',
      '--switch-generation',
      '4',
    ]);
  });
  it('runs the system\'s own switch-to-configuration with the action', () => {
    assert.deepEqual(switchArgs(P, 'dry-activate'), [`${P}/bin/switch-to-configuration`, 'dry-activate']);
  });
});

describe('nix output parsing', () => {
  it('reads the size of what a realisation would fetch', () => {
    const out = `these 3 paths will be fetched (1.50 MiB download, 4.00 MiB unpacked):\n  ${P}\n`;
    assert.deepEqual(parseDryRun(out), { paths: 3, downloadBytes: 1572864, unpackedBytes: 4194304 });
  });
  it('reads the single-path form', () => {
    assert.deepEqual(parseDryRun('this path will be fetched (0.00 MiB download, 1.00 MiB unpacked):'), {
      paths: 1,
      downloadBytes: 0,
      unpackedBytes: 1048576,
    });
  });
  it('returns null when nothing needs fetching', () => {
    assert.equal(parseDryRun(''), null);
    assert.equal(parseDryRun(`don't know how to build these paths:\n  ${P}`), null);
  });
  it('reads generation numbers from profile links', () => {
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', 'system-12-link'), 12);
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', '/nix/var/nix/profiles/system-3-link'), 3);
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', 'other-3-link'), null);
    assert.equal(parseGenerationLink('/nix/var/nix/profiles/system', 'system-x-link'), null);
  });
});

describe('systemd check (parsing real systemctl output; no systemd as PID 1 on the test machine)', () => {
  it('reads is-system-running states', () => {
    assert.equal(parseSystemRunning('running\n'), 'running');
    assert.equal(parseSystemRunning('degraded\n'), 'degraded');
    assert.equal(parseSystemRunning('offline\n'), 'offline');
  });
  it('reads failed units from list-units --plain --no-legend, with or without the bullet', () => {
    const out = [
      'nginx.service      loaded failed failed A high performance web server',
      '● postgresql.service loaded failed failed PostgreSQL Server',
      '',
    ].join('\n');
    assert.deepEqual(parseFailedUnits(out), ['nginx.service', 'postgresql.service']);
    assert.deepEqual(parseFailedUnits(''), []);
    assert.deepEqual(parseFailedUnits('0 loaded units listed.\n'), []);
  });
  it('passes running with no failed units, and degraded only when allowed', () => {
    assert.equal(judgeSystemd('running', [], false).ok, true);
    assert.equal(judgeSystemd('degraded', ['a.service'], false).ok, false);
    assert.equal(judgeSystemd('degraded', ['a.service'], true).ok, true);
    assert.equal(judgeSystemd('starting', [], true).ok, false);
    assert.match(judgeSystemd('degraded', ['a.service'], false).detail, /failed units: a.service/);
  });
});

describe('health window', () => {
  const timing = { timeoutMs: 10_000, stableMs: 3_000 };
  it('passes once all checks have kept passing for the stable time', () => {
    let state = { startedAt: 0, passingSince: null as number | null };
    let r = judgeRound(state, true, 1000, timing);
    assert.equal(r.verdict, 'continue');
    state = r.state;
    r = judgeRound(state, true, 4000, timing);
    assert.equal(r.verdict, 'passed');
  });
  it('restarts the stable time when a check fails in between', () => {
    let r = judgeRound({ startedAt: 0, passingSince: null }, true, 1000, timing);
    r = judgeRound(r.state, false, 2000, timing);
    assert.equal(r.state.passingSince, null);
    r = judgeRound(r.state, true, 3000, timing);
    r = judgeRound(r.state, true, 5000, timing);
    assert.equal(r.verdict, 'continue');
    r = judgeRound(r.state, true, 6000, timing);
    assert.equal(r.verdict, 'passed');
  });
  it('fails when checks still fail at the timeout', () => {
    assert.equal(judgeRound({ startedAt: 0, passingSince: null }, false, 9_999, timing).verdict, 'continue');
    assert.equal(judgeRound({ startedAt: 0, passingSince: null }, false, 10_000, timing).verdict, 'failed');
  });
  it('passes at once with a stable time of zero', () => {
    assert.equal(judgeRound({ startedAt: 0, passingSince: null }, true, 0, { timeoutMs: 1, stableMs: 0 }).verdict, 'passed');
  });
  it('names failing checks and tells a lost controller apart', () => {
    const results = [
      { name: 'web', type: 'http' as const, ok: false, detail: 'HTTP 500' },
      { name: 'controller', type: 'controller' as const, ok: true, detail: 'ok' },
    ];
    assert.equal(failureReason(results), 'health check failed: web (HTTP 500)');
    assert.equal(onlyControllerFailed(results), false);
    assert.equal(onlyControllerFailed([{ name: 'controller', type: 'controller', ok: false, detail: 'unreachable' }]), true);
  });
  it('names checks by type and target unless named', () => {
    assert.equal(checkName({ type: 'http', url: 'http://127.0.0.1:9100/health', timeoutSeconds: 5 }), 'http http://127.0.0.1:9100/health');
    assert.equal(checkName({ type: 'tcp', host: 'db', port: 5432, timeoutSeconds: 5, name: 'db' }), 'db');
  });
});

describe('sources and facts', () => {
  it('uses the same manifest layout for controllers, mirrors and directories', () => {
    assert.equal(manifestUrl('http://ctl:8080', 'web-1'), 'http://ctl:8080/v1/hosts/web-1/manifest');
    assert.equal(manifestUrl('file:///media/bundle/', 'web-1'), 'file:///media/bundle/v1/hosts/web-1/manifest');
  });
  it('finds the filesystem holding the Nix store by the longest mount prefix', () => {
    const mounts = [{ mount: '/' }, { mount: '/nix' }, { mount: '/nixos' }, { mount: '/home' }];
    assert.equal(mountFor(mounts, '/nix/store')?.mount, '/nix');
    assert.equal(mountFor([{ mount: '/' }, { mount: '/home' }], '/nix/store')?.mount, '/');
  });
});

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

describe('running checks', () => {
  it('fails a check that overruns its own timeout, whatever it waits on', async () => {
    const results = await runChecks([{ type: 'controller', timeoutSeconds: 0.2 }], {
      controllerAccepts: () => new Promise(() => undefined),
    });
    assert.deepEqual(results, [{ name: 'controller', type: 'controller', ok: false, detail: 'no answer within 0.2s' }]);
  });
  it('runs a command check as argv and fails it on a non-zero exit', async () => {
    const never = { controllerAccepts: async () => ({ ok: false, detail: 'unused' }) };
    const [ok, bad] = await runChecks(
      [
        { type: 'command', argv: ['/bin/sh', '-c', 'exit 0'], timeoutSeconds: 5 },
        { type: 'command', argv: ['/bin/sh', '-c', 'echo broken >&2; exit 3'], timeoutSeconds: 5, name: 'broken' },
      ],
      never,
    );
    assert.equal(ok?.ok, true);
    assert.equal(bad?.ok, false);
    assert.match(bad?.detail ?? '', /exited with code 3: broken/);
  });
});
