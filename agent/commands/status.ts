// `status`: what this host runs, what the journal says, and the last health window, for people and scripts.
import { defineCommand, EXIT } from '../../shared/cli.js';
import { printable, printableJson } from '../../shared/printable.js';
import { formatRealiseProgress } from '../../shared/report.js';
import { readJournal } from '../adapters/journal-file.js';
import { readBootFiles } from '../adapters/boot-files.js';
import { readProgressFile } from '../adapters/realise-progress.js';
import { createNix } from '../adapters/nix.js';
import { rebootNeeded } from '../core/reboot.js';
import { CONFIG_FLAG, CONFIG_USAGE, configFrom, type AgentIo } from '../cli-context.js';

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'Current and booted system, profile generation, last accepted version, journal state, last health.',
  usage: `${CONFIG_USAGE}  --json          print it as JSON\n`,
  flags: { ...CONFIG_FLAG, json: { type: 'boolean' } },
  async run({ values }, io: AgentIo) {
    const config = await configFrom(values, 'read');
    const nix = createNix({ log: io.logger(config, 'silent'), realiseTimeoutMs: 1000, activateTimeoutMs: 1000 });
    const journal = await readJournal(config.stateDir);
    const profile = await nix.readProfile(config.profile);
    const bootedSystem = await nix.bootedSystem();
    // The profile's generation is what the next boot runs: a reboot is needed when its boot files differ.
    const reboot = rebootNeeded(await readBootFiles(bootedSystem), await readBootFiles(profile?.path ?? null));
    // The last realise's progress, while it is the deployment's: under way in `realising`, finished after.
    const progressFile = await readProgressFile(config.stateDir);
    const realiseProgress = progressFile !== null && progressFile.storePath === journal.deployment?.storePath ? { ...progressFile.progress, updatedAt: progressFile.updatedAt } : null;
    const status = {
      host: config.host,
      currentSystem: await nix.currentSystem(),
      bootedSystem,
      rebootNeeded: reboot.needed,
      rebootChanges: reboot.changed,
      profile: config.profile,
      generation: profile?.generation ?? null,
      profilePath: profile?.path ?? null,
      lastAccepted: journal.lastAccepted,
      deployment: journal.deployment,
      lastHealth: journal.lastHealth,
      realiseProgress,
      failedVersions: journal.failedVersions,
    };
    if (values.json === true) {
      io.out(`${printableJson(status)}\n`);
      return EXIT.ok;
    }
    const d = journal.deployment;
    const lines = [
      `host:            ${status.host}`,
      `current system:  ${status.currentSystem ?? '-'}`,
      `booted system:   ${status.bootedSystem ?? '-'}`,
      `reboot needed:   ${reboot.needed ? `yes (${reboot.changed.join(', ')} changed)` : 'no'}`,
      `profile:         ${status.profile} (generation ${status.generation ?? '-'})`,
      `last accepted:   ${journal.lastAccepted === null ? '-' : `version ${journal.lastAccepted.version}`}`,
      `deployment:      ${d === null ? '-' : `version ${d.version} ${d.phase} ${d.storePath}${d.reason === null ? '' : ` (${d.reason})`}`}`,
      ...(realiseProgress === null ? [] : [`realise:         ${formatRealiseProgress(realiseProgress)}${realiseProgress.finished ? ' (finished)' : ''}`]),
      ...(d?.reboot === undefined ? [] : [`reboot:          ${d.reboot.stage}, ${d.reboot.reboots} reboot(s)${d.reboot.waiting === null ? '' : `; waiting: ${d.reboot.waiting}`}`]),
      `last health:     ${journal.lastHealth === null ? '-' : `${journal.lastHealth.ok ? 'ok' : 'FAILED'} at ${journal.lastHealth.time}`}`,
    ];
    // The journal's reasons quote Nix, caches and health checks: each line escaped, one line each.
    io.out(`${lines.map(printable).join('\n')}\n`);
    return EXIT.ok;
  },
});
