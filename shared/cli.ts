// Shared CLI plumbing: a small command definition (usage, flags, positionals), dispatch, and the
// top-level runner that turns each error family into its exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { asFileSystemError, errnoCode, errorMessage, EXIT, exitCodeFor, isUserError, OperatorError } from './errors.js';
import { printable } from './printable.js';
import { PACKAGE_VERSION } from './version.js';

export { EXIT } from './errors.js';

/** A command line the operator got wrong: exit 2. */
export class UsageError extends OperatorError {
  override name = 'UsageError' as const;
}

/** A flag value's problem in words ("must be a positive integer"), or null when the value is usable. */
export type FlagCheck = (value: string) => string | null;

/**
 * parseArgs options, each with an optional `check` of its value. The runner applies every check
 * before the command runs (before it reads a file or opens a connection): a failed one is exit 2.
 */
export interface FlagOptions {
  [name: string]: FlagOption;
}

/** One parseArgs option (type, multiple, short, default). */
type ParseArgsOption = NonNullable<ParseArgsConfig['options']>[string];

export interface FlagOption extends ParseArgsOption {
  readonly check?: FlagCheck;
}

/** A flag or argument whose value the command cannot use: a command-line mistake, exit 2. */
export class ArgumentValueError extends OperatorError {
  override name = 'ArgumentValueError' as const;
  constructor(readonly argument: string, readonly value: string, readonly problem: string) {
    super(`${argument} ${JSON.stringify(value)}: ${problem}`);
  }
}

/** The values parseArgs returns for `F`, typed per flag. */
export type FlagValues<F extends FlagOptions> = ReturnType<
  typeof parseArgs<{ options: F; allowPositionals: true; strict: true; args: string[] }>
>['values'];

/** Edit distance, for suggesting the flag the operator probably meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known flag closest to `given` (by edit distance, at most a third of its length), if any. */
export function closestFlag(given: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.ceil(given.length / 3)) + 1;
  for (const name of known) {
    const d = distance(given, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Node's parseArgs wording for a flag's value, in ours: what is wrong and how to write it. */
function valueProblem(message: string): string | null {
  const flag = /'(?:-\w, )?(--[^' <]+)/.exec(message)?.[1];
  if (flag === undefined) return null;
  if (message.includes('does not take an argument')) return `${flag} takes no value`;
  if (message.includes('argument missing')) return `${flag} needs a value`;
  if (message.includes('ambiguous')) return `${flag} needs a value (to give one that starts with "-", write ${flag}=VALUE)`;
  return null;
}

/** Parses flags strictly; an unknown or malformed flag becomes one line naming it (and the likely one). */
export function parseFlags<T extends FlagOptions>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const given = /'(-{1,2}[^']*)'/.exec(errorMessage(error))?.[1] ?? '';
      const name = given.replace(/^-+/, '').split('=')[0] ?? '';
      const suggestion = closestFlag(name, Object.keys(options));
      throw new UsageError(`unknown option ${given}${suggestion === null ? '' : `; did you mean --${suggestion}?`}`);
    }
    const message = errorMessage(error);
    throw new UsageError(valueProblem(message) ?? message.split('\n')[0] ?? 'invalid arguments');
  }
}

/** Applies every flag's `check` to what was given (each value of a repeated flag): the first problem is exit 2. */
export function checkFlagValues(options: FlagOptions, values: Record<string, unknown>): void {
  for (const [name, option] of Object.entries(options)) {
    if (option.check === undefined) continue;
    const given = values[name];
    for (const value of Array.isArray(given) ? (given as unknown[]) : [given]) {
      if (typeof value !== 'string') continue;
      const problem = option.check(value);
      if (problem !== null) throw new ArgumentValueError(`--${name}`, value, problem);
    }
  }
}

/** Returns a required string flag or throws a UsageError naming it. */
export function requireFlag(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`missing required option --${name}`);
  return value;
}

/** Returns an optional string flag. */
export function optionalFlag(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Parses a positive integer flag value. */
export function parsePositiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw new UsageError(`--${flag} must be a positive integer, got "${text}"`);
  }
  return Number(text);
}

/** Where a command writes: stdout for results, stderr for diagnostics. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export interface Positionals {
  readonly min: number;
  readonly max: number;
  /** How they read in the usage line, e.g. "FILE" or "[HOST…]". */
  readonly names: string;
  /** Checks each positional's value before the command runs, as flags are checked: a problem is exit 2. */
  readonly check?: FlagCheck;
}

export interface CommandSpec<F extends FlagOptions, Io extends Output> {
  /** As typed after the program, e.g. "publish" or "hosts approve". */
  readonly name: string;
  /** One line for the program's command list. */
  readonly summary: string;
  /** The options part of `--help`, one option a line. */
  readonly usage: string;
  readonly flags: F;
  readonly positionals?: Positionals;
  run(input: { readonly values: FlagValues<F>; readonly positionals: readonly string[] }, io: Io): Promise<number>;
}

/** A parsed-and-checked command, ready for `runProgram`. */
export interface Command<Io extends Output> {
  readonly name: string;
  readonly summary: string;
  helpText(program: string): string;
  invoke(program: string, args: readonly string[], io: Io): Promise<number>;
}

const NO_POSITIONALS: Positionals = { min: 0, max: 0, names: '' };

/** One command: strict flags, `--help`, positional counts checked, before `run` sees anything. */
export function defineCommand<F extends FlagOptions, Io extends Output>(spec: CommandSpec<F, Io>): Command<Io> {
  const positionals = spec.positionals ?? NO_POSITIONALS;
  const helpText = (program: string) =>
    `Usage: ${program} ${spec.name}${positionals.names === '' ? '' : ` ${positionals.names}`}\n\n${spec.summary}\n${
      spec.usage === '' ? '' : `\nOptions:\n${spec.usage.replace(/\n?$/, '\n')}`
    }`;
  return {
    name: spec.name,
    summary: spec.summary,
    helpText,
    async invoke(program, args, io) {
      if (args.includes('--help') || args.includes('-h')) {
        io.out(helpText(program));
        return EXIT.ok;
      }
      const parsed = parseFlags(args, spec.flags);
      const given = parsed.positionals;
      if (given.length < positionals.min) {
        throw new UsageError(`${spec.name}: missing ${positionals.names || 'argument'}; run with --help for usage`);
      }
      if (given.length > positionals.max) {
        throw new UsageError(`${spec.name}: unexpected argument "${given[positionals.max] ?? ''}"`);
      }
      checkFlagValues(spec.flags, parsed.values);
      for (const value of given) {
        const problem = positionals.check?.(value) ?? null;
        if (problem !== null) throw new ArgumentValueError(positionals.names.replace(/[[\]…]/g, ''), value, problem);
      }
      return spec.run({ values: parsed.values as FlagValues<F>, positionals: given }, io);
    },
  };
}

/**
 * Finds the command whose name matches the longest prefix of `argv` ("hosts approve" before
 * "hosts") and invokes it; `help`/`--help`/nothing prints `help`; `--version`/`version` prints the version.
 */
export async function runProgram<Io extends Output>(
  program: string,
  help: string,
  commands: readonly Command<Io>[],
  argv: readonly string[],
  io: Io,
): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    io.out(help);
    return EXIT.ok;
  }
  if (first === '--version' || first === 'version') {
    io.out(`${program} ${PACKAGE_VERSION}\n`);
    return EXIT.ok;
  }
  let best: Command<Io> | undefined;
  let bestWords = 0;
  for (const command of commands) {
    const words = command.name.split(' ');
    if (words.length > bestWords && words.every((word, i) => argv[i] === word)) {
      best = command;
      bestWords = words.length;
    }
  }
  if (best === undefined) {
    const group = commands.filter((command) => command.name.startsWith(`${first} `));
    if (group.length > 0) {
      const names = group.map((command) => command.name.split(' ')[1]).join(', ');
      throw new UsageError(`unknown ${first} subcommand "${argv[1] ?? ''}" (expected: ${names})`);
    }
    if (first.startsWith('-')) {
      throw new UsageError(`unknown option ${first} before the command; options go after it (${program} <command> ${first} …); run ${program} --help`);
    }
    const names = [...new Set(commands.map((command) => command.name.split(' ')[0] ?? ''))];
    const suggestion = closestFlag(first, names);
    throw new UsageError(`unknown command "${first}"${suggestion === null ? '' : ` (did you mean ${suggestion}?)`}; run ${program} --help`);
  }
  return best.invoke(program, argv.slice(bestWords), io);
}

/**
 * Runs a CLI's main function: a user error prints one line to stderr and exits with its family's
 * code; a file-system call that failed is one line with its path (exit 1); anything else prints its
 * stack (a bug) and exits 1. A closed stdout (`… | head`) ends quietly; stdout that cannot be written
 * (a full disk, /dev/full) is one line and exit 1, never a silent success.
 */
export async function runCli(program: string, main: () => Promise<number>): Promise<void> {
  process.stdout.on('error', (error: unknown) => {
    if (errnoCode(error) === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    process.stderr.write(`${program}: cannot write to standard output: ${errnoCode(error) ?? errorMessage(error)}\n`);
    process.exit(EXIT.failure);
  });
  process.stderr.on('error', (error: unknown) => {
    // Nowhere left to say anything: end with the code the command had, or failure.
    process.exit(errnoCode(error) === 'EPIPE' ? (process.exitCode ?? EXIT.failure) : EXIT.failure);
  });
  try {
    process.exitCode = await main();
  } catch (thrown) {
    const error = asFileSystemError(thrown) ?? thrown;
    if (isUserError(error)) {
      // Messages may quote what a controller, a host or a file said: printed with control characters escaped.
      process.stderr.write(`${program}: ${printable(error.message)}\n`);
    } else {
      // A bug's stack may quote what it was parsing (a controller's answer, a file): each line escaped.
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${program}: internal error: ${text.split('\n').map(printable).join('\n')}\n`);
    }
    process.exitCode = exitCodeFor(error);
  }
}
