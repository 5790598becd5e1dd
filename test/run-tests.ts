// `npm test`: installs the lab's prerequisites when it can, then runs every test file on node's runner.
// `--unit` runs only the unit tests (no root, no Nix needed).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return testFiles(path);
      return entry.name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

const unitOnly = process.argv.includes('--unit');
const filter = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));

if (!unitOnly) {
  const prereqs = spawnSync('bash', [join(root, 'scripts/install-prereqs.sh')], { stdio: 'inherit' });
  if (prereqs.status !== 0) process.exit(prereqs.status ?? 1);
}

let files = testFiles(join(root, unitOnly ? 'test/unit' : 'test'));
if (filter.length > 0) files = files.filter((file) => filter.some((f) => relative(root, file).includes(f)));
if (files.length === 0) {
  process.stderr.write('no test files matched\n');
  process.exit(1);
}

// One file at a time: lab tests build namespaces and time health windows on a 2-core machine.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=900000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
