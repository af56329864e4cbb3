// Errors a user can act on. The CLI prints their message as one line and exits
// with their code; anything else is a bug and keeps its stack.
export class HiveError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'HiveError';
  }
}

/** Bad command-line input: wrong option, bad value, bad path. */
export class UsageError extends HiveError {}

/** The kernel or the process lacks something hive needs (mode, BTF, capability). */
export class EnvironmentError extends HiveError {}

/** The watched-inode map cannot take more entries. */
export class MapFullError extends HiveError {
  constructor(
    readonly wanted: number,
    readonly allowed: number,
    what = 'watched files',
  ) {
    super(`too many ${what}: ${wanted}, at most ${allowed} are allowed (raise --max-watches)`);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
