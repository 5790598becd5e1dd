// Regenerates rendered/tsdeploy-agent.service, the agent unit of rendered/lab-host.nix as the module renders it, and
// beside it the sha256 of every file the rendering read (checked without Nix by test/unit/nixos-module-rendered-unit.test.ts).
// Needs TSDEPLOY_NIXPKGS_LIB, as the module test does. Run after a module change, and review the diff:
//   TSDEPLOY_NIXPKGS_LIB=/tmp/nixpkgs.lib/lib node --import tsx test/nixos-module/render-unit.ts
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { evaluate, evaluateLogged, fetchLibCommand, goldenUnitPath, nixpkgsLibFromEnv, repo } from './nix-eval.js';
import { evaluatedRepoFiles, fileDigest, formatInputDigests, RENDERED_INPUTS_FILE, renderedInputPaths, type InputDigest } from './rendered-inputs.js';

if (nixpkgsLibFromEnv() === undefined) {
  process.stderr.write(`TSDEPLOY_NIXPKGS_LIB is not set: ${fetchLibCommand}\n`);
  process.exit(2);
}
const failed = (await evaluate('goldenFailedAssertions')) as string[];
if (failed.length > 0) {
  process.stderr.write(`rendered/lab-host.nix fails the module's assertions:\n${failed.join('\n')}\n`);
  process.exit(1);
}
const { value, log } = await evaluateLogged('goldenUnit');
const rendered = value as string;

async function replace(path: string, text: string): Promise<void> {
  const before = await readFile(path, 'utf8').catch(() => null);
  await writeFile(path, text);
  process.stdout.write(`${relative(repo, path)}: ${before === text ? 'unchanged' : 'written'}\n`);
}

await replace(goldenUnitPath, rendered);
const digests: InputDigest[] = renderedInputPaths(evaluatedRepoFiles(log, repo)).map((path) => {
  const sha256 = fileDigest(repo, path);
  if (sha256 === null) throw new Error(`${path} was read by the rendering but does not exist`);
  return { path, sha256 };
});
await replace(join(repo, RENDERED_INPUTS_FILE), formatInputDigests(digests));
