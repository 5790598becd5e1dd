// The tree's shape rules: files small enough to read whole, and commands that never import each other.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MAX_LINES = 300;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function lineCount(file: string): number {
  const text = readFileSync(file, 'utf8');
  return text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/gm)].map((m) =>
    resolve(dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts')),
  );
}

/** A command module is one that defines a command; the helpers beside it define none. */
function definesCommand(file: string): boolean {
  return /\bdefineCommand\(/.test(readFileSync(file, 'utf8'));
}

describe('the source tree', () => {
  const files = ['agent', 'controller', 'shared', 'test'].flatMap((dir) => tsFiles(join(root, dir)));

  it(`has no TypeScript file over ${MAX_LINES} lines, program or test`, () => {
    const long = files.map((file) => ({ file: relative(root, file), lines: lineCount(file) })).filter((f) => f.lines > MAX_LINES);
    assert.deepEqual(long, [], `split these: ${long.map((f) => `${f.file} (${f.lines})`).join(', ')}`);
  });

  for (const program of ['agent', 'controller']) {
    it(`${program}/commands: no command module imports another command module`, () => {
      const dir = join(root, program, 'commands');
      const commands = readdirSync(dir).filter((name) => name.endsWith('.ts')).map((name) => join(dir, name));
      assert.ok(commands.filter(definesCommand).length >= 5, `${program}/commands defines too few commands: is defineCommand still the way?`);
      const crossings = commands
        .filter(definesCommand)
        .flatMap((file) => relativeImports(file).filter((target) => dirname(target) === dir && definesCommand(target)).map((target) => `${relative(root, file)} → ${relative(root, target)}`));
      assert.deepEqual(crossings, []);
    });
  }

  it('the line count and the command check see what they should', () => {
    assert.equal(lineCount(fileURLToPath(import.meta.url)) < MAX_LINES, true);
    assert.equal(definesCommand(join(root, 'controller/commands/status.ts')), true);
    assert.equal(definesCommand(join(root, 'controller/commands/context.ts')), false);
  });
});
