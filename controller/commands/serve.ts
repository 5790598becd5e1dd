// `serve`: run the controller from its config file until SIGTERM or SIGINT.
import { resolve } from 'node:path';
import { defineCommand, EXIT, optionalFlag, requireFlag, UsageError } from '../../shared/cli.js';
import { UserError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { checkStateDir } from '../../shared/state-dir.js';
import { loadControllerConfig, parseListen } from '../config.js';
import { createController } from '../http/server.js';
import { createFileStore } from '../storage/store.js';
import type { ControllerIo } from './context.js';

const listenAddress = (value: string): string | null =>
  parseListen(value) === null ? 'must be HOST:PORT or [IPv6]:PORT, for example 127.0.0.1:8080' : null;

export class ListenError extends UserError {
  override name = 'ListenError' as const;
  constructor(readonly listen: string, readonly code: string) {
    super(`cannot listen on ${listen}: ${code}`);
  }
}

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'Run the controller: HTTP API for agents and operators, and /nix-cache/.',
  usage: '  --config FILE       the controller config (the NixOS module writes it)\n  --state-dir DIR     override the config\'s stateDir\n  --listen HOST:PORT  override the config\'s listen address\n',
  flags: { config: { type: 'string' }, 'state-dir': { type: 'string' }, listen: { type: 'string', check: listenAddress } },
  async run({ values }, io: ControllerIo) {
    const loaded = await loadControllerConfig(requireFlag(values, 'config'));
    const listenText = optionalFlag(values, 'listen') ?? loaded.listen;
    const listen = parseListen(listenText);
    if (listen === null) throw new UsageError(`--listen must be HOST:PORT, got "${listenText}"`);
    const stateDirFlag = optionalFlag(values, 'state-dir');
    const config = { ...loaded, listen: listenText, stateDir: stateDirFlag === undefined ? loaded.stateDir : resolve(stateDirFlag) };
    const logger = createLogger('tsdeploy-controller', config.logLevel, io.logDestination, { journald: io.journald });
    await checkStateDir(config.stateDir, { access: 'write', create: true, setting: 'stateDir in the config (or --state-dir DIR)' });
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
    const stop = io.stop();
    if (!stop.aborted) await new Promise((done) => stop.addEventListener('abort', done, { once: true }));
    logger.info('stopping');
    await controller.close();
    return EXIT.ok;
  },
});
