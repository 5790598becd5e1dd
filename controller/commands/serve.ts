// `serve` and `check-config`: run the controller from its config file, or validate that file.
import { resolve } from 'node:path';
import { EXIT, optionalFlag, parseFlags, requireFlag, UsageError } from '../../shared/cli.js';
import { UserError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { ControllerConfigError, loadControllerConfig, parseListen } from '../config.js';
import { createController } from '../server.js';
import { createFileStore } from '../store.js';

type Out = (text: string) => void;

export class ListenError extends UserError {
  override name = 'ListenError' as const;
  constructor(readonly listen: string, readonly code: string) {
    super(`cannot listen on ${listen}: ${code}`);
  }
}

export const SERVE_USAGE = 'Usage: tsdeploy-controller serve --config FILE [--state-dir DIR] [--listen HOST:PORT]\n';

export async function serveCommand(
  args: readonly string[],
  io: { out: Out; stop: AbortSignal; logDestination: NodeJS.WritableStream },
): Promise<number> {
  const { values } = parseFlags(args, {
    config: { type: 'string' },
    'state-dir': { type: 'string' },
    listen: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(SERVE_USAGE);
    return EXIT.ok;
  }
  const loaded = await loadControllerConfig(requireFlag(values, 'config'));
  const listenText = optionalFlag(values, 'listen') ?? loaded.listen;
  const listen = parseListen(listenText);
  if (listen === null) throw new UsageError(`--listen must be HOST:PORT, got "${listenText}"`);
  const stateDirFlag = optionalFlag(values, 'state-dir');
  const config = { ...loaded, listen: listenText, stateDir: stateDirFlag === undefined ? loaded.stateDir : resolve(stateDirFlag) };
  const logger = createLogger('tsdeploy-controller', config.logLevel, io.logDestination);
  const store = createFileStore(config.stateDir, config.reports);
  const controller = await createController({ config, store, logger });
  let bound: { address: string; port: number };
  try {
    bound = await controller.listen(listen);
  } catch (error) {
    await controller.close();
    throw new ListenError(listenText, (error as NodeJS.ErrnoException).code ?? String(error));
  }
  logger.info({ address: bound.address, port: bound.port, stateDir: config.stateDir }, 'listening');
  if (!io.stop.aborted) await new Promise((done) => io.stop.addEventListener('abort', done, { once: true }));
  logger.info('stopping');
  await controller.close();
  return EXIT.ok;
}

export async function checkConfigCommand(file: string | undefined, io: { out: Out; err: Out }): Promise<number> {
  if (file === undefined || file === '--help') {
    io.out('Usage: tsdeploy-controller check-config FILE\n');
    return file === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    const config = await loadControllerConfig(file);
    io.out(
      `${file}: ok (listen ${config.listen}, state ${config.stateDir}, ${config.trustedReleaseKeys.length} release key(s), threshold ${config.releaseThreshold})\n`,
    );
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ControllerConfigError)) throw error;
    io.err(`${file}: invalid config\n`);
    for (const problem of error.problems) io.err(`  - ${problem}\n`);
    return EXIT.failure;
  }
}
