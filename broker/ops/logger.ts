// Structured logging: pino, JSON lines on stdout, one root logger per process and a child per component.
//
//   const logger = createLogger({ level: config.logLevel, nodeId: config.nodeId });
//   const log = componentLogger(logger, 'storage');   // every line carries "component":"storage"
//   log.info({ partition: 'orders-3', bytes: 8_388_608 }, 'segment flushed');
//
// Lines are written synchronously: the broker logs events, not per-record traffic, and a synchronous
// destination loses nothing when the process exits right after a fatal error.
import pino from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../config.ts';

export type Logger = PinoLogger;

export interface CreateLoggerOptions {
  level: LogLevel;
  /** Added to every line as `node`. */
  nodeId?: number;
  /** Where lines go; default stdout (fd 1, synchronous). Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const base: Record<string, unknown> = { pid: process.pid };
  if (options.nodeId !== undefined) base.node = options.nodeId;
  return pino(
    {
      level: options.level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names ("info") rather than numbers (30): greppable, and what log shippers map most easily.
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A child logger whose lines carry `component` (and any other bindings given). */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...bindings });
}

/** A logger that drops everything, for code paths and tests that need one but have nothing to say. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
