// `npm ci` builds dist/ (the prepare script), so a clean clone runs `npx tsdeploy-controller …` at once.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface PackageJson {
  readonly version: string;
  readonly scripts: Record<string, string>;
  readonly bin: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

describe('the build a clean clone gets from npm ci', () => {
  it('has a prepare script that runs the build, so npm ci writes dist/', () => {
    assert.equal(pkg.scripts['build'], 'tsc -p tsconfig.build.json');
    assert.equal(pkg.scripts['prepare'], 'npm run build');
  });

  it('builds every bin of package.json, and each answers --version', () => {
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
    assert.deepEqual(Object.keys(pkg.bin).sort(), ['tsdeploy-agent', 'tsdeploy-controller']);
    for (const [name, path] of Object.entries(pkg.bin)) {
      assert.match(readFileSync(join(ROOT, path), 'utf8'), /^#!\/usr\/bin\/env node\n/, `${path} starts with a node shebang`);
      const run = spawnSync(process.execPath, [join(ROOT, path), '--version'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, `${name} ${pkg.version}\n`);
    }
  });
});
