// `rollout start`: sign every host's manifest (version current + 1) up front and hand them to the
// controller with a policy; the controller holds later waves and releases them as earlier ones stay healthy.
import { expiryWarning } from '../rollout/expiry.js';
import { loadPolicy } from './policy-file.js';
import { defineCommand, EXIT, optionalFlag, requireFlag, UsageError } from '../../shared/cli.js';
import { parseDuration } from '../../shared/duration.js';
import { printable, printableJson } from '../../shared/printable.js';
import { buildManifest, localNixSystem, signManifest } from '../../shared/sign-manifest.js';
import { storedManifestInfo } from '../fleet/decide-publish.js';
import { createControllerApi, errorOfBody } from '../http/client.js';
import { planWaves } from '../rollout/plan.js';
import { activationFrom, secretKeysFrom, SIGNING_FLAGS, type ControllerIo } from './context.js';
import { loadRelease } from './release-file.js';

export const rolloutStartCommand = defineCommand({
  name: 'rollout start',
  summary: 'Sign every host of a release and start a rollout: canary first, then waves that halt themselves.',
  usage:
    '  --controller URL    the controller\n  --key SECRET_FILE   a release key (repeat for a threshold)\n  --release FILE      {"hosts": {"web-1": "/nix/store/…"}}\n' +
    '  --policy FILE       the rollout policy (JSON; defaults: canary 1, waves of 25%, bake 300 s, none unhealthy)\n  --id ID             a name for the rollout (default: the time)\n' +
    '  --activation MODE   switch (default), boot, test or dry-activate\n  --expires-in 7d     must outlast the rollout; a warning says when it may not\n  --json\n',
  flags: { ...SIGNING_FLAGS, controller: { type: 'string' }, release: { type: 'string' }, policy: { type: 'string' }, id: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values }, io: ControllerIo) {
    const api = createControllerApi(requireFlag(values, 'controller'));
    if ((values.key ?? []).length === 0) throw new UsageError('missing required option --key');
    const release = await loadRelease(requireFlag(values, 'release'));
    const policy = await loadPolicy(optionalFlag(values, 'policy'));
    const keys = await secretKeysFrom(values);
    const activation = activationFrom(values);
    const expiresInMs = parseDuration(values['expires-in'] ?? '7d');
    const now = io.now();
    const id = optionalFlag(values, 'id') ?? now.toISOString().replace(/[:.]/g, '-');
    const waves = planWaves(Object.keys(release.hosts), policy);
    const warning = expiryWarning(expiresInMs, Object.keys(release.hosts), policy);
    if (warning !== null) io.err(`${warning}\n`);
    try {
      const manifests: string[] = [];
      for (const [host, storePath] of Object.entries(release.hosts)) {
        const fetched = await api.getManifest(host);
        const version = fetched.kind === 'found' ? storedManifestInfo(fetched.bytes).manifest.version + 1 : 1;
        const manifest = buildManifest({ host, storePath, version, activation, expiresInMs, system: optionalFlag(values, 'system') ?? localNixSystem(), now, rollout: id });
        manifests.push(signManifest(manifest, keys));
      }
      const answer = await api.postRollout(JSON.stringify({ id, policy, manifests }));
      if (answer.status !== 201) {
        io.err(`rollout refused (HTTP ${answer.status}): ${printable(errorOfBody(answer))}\n`);
        return EXIT.rejected;
      }
      if (values.json === true) io.out(`${printableJson(answer.body)}\n`);
      else io.out(`rollout ${id} started: ${waves.map((w, i) => `${i === 0 ? 'canary' : `wave ${i}`} ${w.length}`).join(', ')}\n`);
      return EXIT.ok;
    } finally {
      await api.close();
    }
  },
});
