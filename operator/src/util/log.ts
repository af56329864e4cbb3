// The one pino logger. Logs go to stderr as JSON; stdout carries only events.
import pino from 'pino';

export const log = pino(
  {
    level: process.env.HIVE_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination({ fd: 2, sync: true }),
);

export type Logger = pino.Logger;
