// pino JSON logs with stable field names (host, version, storePath, phase) for journald and pipelines.
import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger writing JSON lines to stdout (journald adds the timestamp and unit). */
export function createLogger(name: string, level = 'info', destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino({ name, level, base: { program: name }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that drops everything, for library callers and CLI one-shots. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
