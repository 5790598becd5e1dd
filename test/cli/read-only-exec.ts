// Test helper, run inside `unshare --mount --propagation private`: bind-mounts DIR read-only over itself
// in this private mount namespace (the machine's mounts are untouched), then runs the argv after "--".
import { spawnSync } from 'node:child_process';

const [dir, separator, file, ...args] = process.argv.slice(2);
if (dir === undefined || separator !== '--' || file === undefined) {
  process.stderr.write('usage: read-only-exec.ts DIR -- PROGRAM [ARG…]\n');
  process.exit(2);
}
const mount = spawnSync('mount', ['--bind', '-o', 'ro', dir, dir], { stdio: 'inherit' });
if (mount.status !== 0) process.exit(mount.status ?? 1);
const run = spawnSync(file, args, { stdio: 'inherit' });
process.exit(run.status ?? 1);
