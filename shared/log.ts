// pino JSON logs with stable field names (host, version, storePath, phase) for journald and pipelines.
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /**
   * Prefix each line with its syslog priority (`<3>{…}`), which journald takes as the entry's PRIORITY, so
   * `journalctl -p err -u UNIT` shows errors. For stdout connected to journald (systemd sets JOURNAL_STREAM).
   */
  readonly journald?: boolean;
}

/** pino's level number → syslog priority: trace, debug 7; info 6; warn 4; error 3; fatal 2. */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** Puts the syslog prefix for the line's pino level in front of one serialised line. */
export function withPriorityPrefix(line: string): string {
  const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? '30');
  return `<${syslogPriority(level)}>${line}`;
}

/** A logger writing JSON lines to stdout (journald adds the timestamp and unit). */
export function createLogger(name: string, level = 'info', destination: NodeJS.WritableStream = process.stdout, options: LoggerOptions = {}): Logger {
  return pino(
    {
      name,
      level,
      base: { program: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(options.journald === true ? { hooks: { streamWrite: withPriorityPrefix } } : {}),
    },
    destination,
  );
}

/** A logger that drops everything, for library callers and CLI one-shots. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
