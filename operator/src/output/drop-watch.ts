// A warning in the log whenever the kernel counted events it could not put in
// a full ring buffer since the last look.
import { Logger } from '../util/log';

export function watchDrops(readDropped: () => number, log: Logger, everyMs = 5000): NodeJS.Timeout {
  let last = 0;
  const t = setInterval(() => {
    const dropped = readDropped();
    if (dropped > last) log.warn({ dropped: dropped - last }, 'ring buffer full: events lost');
    last = dropped;
  }, everyMs);
  t.unref();
  return t;
}
