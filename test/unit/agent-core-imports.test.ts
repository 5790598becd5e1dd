// agent/core decides and does no I/O: nothing it imports, directly or through shared/, can touch the world.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const core = join(root, 'agent/core');

/** Packages and built-ins that do I/O (or reach the clock, the process or the environment). */
const FORBIDDEN = /^(node:)?(fs|fs\/promises|child_process|net|http|https|dns|dgram|os|process|worker_threads|cluster)$|^(undici|systeminformation|node-cron|pino)$/;
const ALLOWED_PACKAGES = new Set(['zod']);

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)].map((m) => m[1] ?? m[2] ?? '');
}

/** Every module reached from `file`, with the chain that reached it; throws on a forbidden import. */
function walk(file: string, chain: string[], seen: Set<string>): void {
  if (seen.has(file)) return;
  seen.add(file);
  for (const specifier of importsOf(file)) {
    const where = [...chain, relative(root, file)].join(' → ');
    if (specifier.startsWith('.')) {
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      assert.ok(
        target.startsWith(core) || target.startsWith(join(root, 'shared')),
        `${where} imports ${specifier}, outside agent/core and shared/`,
      );
      walk(target, [...chain, relative(root, file)], seen);
    } else {
      assert.ok(!FORBIDDEN.test(specifier), `${where} imports ${specifier}, which does I/O`);
      assert.ok(ALLOWED_PACKAGES.has(specifier), `${where} imports ${specifier}; agent/core may import only ${[...ALLOWED_PACKAGES].join(', ')}`);
    }
  }
}

describe('agent/core', () => {
  const files = readdirSync(core).filter((name) => name.endsWith('.ts'));

  it('has the decision modules', () => {
    for (const name of ['step.ts', 'effects.ts', 'journal.ts', 'health-window.ts', 'preflight.ts', 'rollback-plan.ts', 'operator-rollback.ts', 'outcome.ts']) {
      assert.ok(files.includes(name), `agent/core/${name} is missing`);
    }
  });

  for (const name of files) {
    it(`${name} imports nothing that does I/O, directly or through shared/`, () => {
      walk(join(core, name), [], new Set());
    });
  }

  it('the check catches an I/O import', () => {
    assert.match(String(FORBIDDEN.test('node:fs/promises')), /true/);
    assert.ok(FORBIDDEN.test('undici') && FORBIDDEN.test('child_process') && !FORBIDDEN.test('zod'));
  });
});
