// Regenerates rendered/tsdeploy-agent.service, the agent unit of rendered/lab-host.nix as the module renders it.
// Needs TSDEPLOY_NIXPKGS_LIB, as the module test does. Run after a module change, and review the diff:
//   node --import tsx test/nixos-module/render-unit.ts
import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { evaluate, fetchLibCommand, goldenUnitPath, nixpkgsLibFromEnv, repo } from './nix-eval.js';

if (nixpkgsLibFromEnv() === undefined) {
  process.stderr.write(`TSDEPLOY_NIXPKGS_LIB is not set: ${fetchLibCommand}\n`);
  process.exit(2);
}
const failed = (await evaluate('goldenFailedAssertions')) as string[];
if (failed.length > 0) {
  process.stderr.write(`rendered/lab-host.nix fails the module's assertions:\n${failed.join('\n')}\n`);
  process.exit(1);
}
const rendered = (await evaluate('goldenUnit')) as string;
const before = await readFile(goldenUnitPath, 'utf8').catch(() => null);
await writeFile(goldenUnitPath, rendered);
process.stdout.write(`${relative(repo, goldenUnitPath)}: ${before === rendered ? 'unchanged' : 'written'}\n`);
