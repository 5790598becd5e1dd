// `check-config FILE` for both programs: load with the program's schema, list every problem, exit 1 if any.
import { defineCommand, EXIT, type Command, type Output } from './cli.js';
import { ConfigError } from './config-file.js';

/** A check-config command for a program whose `load` throws ConfigError with every problem. */
export function checkConfigCommand<T, Io extends Output>(load: (path: string) => Promise<T>, describe: (config: T) => string): Command<Io> {
  return defineCommand({
    name: 'check-config',
    summary: 'Validate a config file; lists every problem, exit 1 if there is any.',
    usage: '',
    flags: {},
    positionals: { min: 1, max: 1, names: 'FILE' },
    async run({ positionals }, io: Io) {
      const file = positionals[0] ?? '';
      try {
        io.out(`${file}: ok (${describe(await load(file))})\n`);
        return EXIT.ok;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        io.err(`${file}: invalid config\n`);
        for (const problem of error.problems) io.err(`  - ${problem}\n`);
        return EXIT.failure;
      }
    },
  });
}
