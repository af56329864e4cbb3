// Command-line parsing for every subcommand: pure functions, unit-tested.
// Defaults and validation live here, before anything touches the kernel.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { UsageError, errorMessage } from '../util/errors';
import { ACCESS_ALL, parseAccess } from '../bpf/layout';
import { ModeOption, parseMode } from '../bpf/modes';
import { DEFAULT_MAX_WATCHES, MAX_MAX_WATCHES } from '../bpf/file-access';

export interface TraceOptions {
  mode: ModeOption;
  access: number;
  pretty: boolean;
  maxWatches: number;
  skipMissing: boolean;
  paths: string[];
}

function intOption(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>, cmd: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages are long and mention "To specify a positional argument..."
    throw new UsageError(`hive ${cmd}: ${errorMessage(e).split('. ')[0]}`);
  }
}

export const TRACE_USAGE =
  'usage: hive trace [--mode auto|kprobe|fentry|lsm|tracepoint] [--access read,write,exec] [--pretty] ' +
  '[--max-watches N] [--skip-missing] PATH...';

export function parseTraceArgs(argv: string[]): TraceOptions {
  const { values, positionals } = parse(
    argv,
    {
      mode: { type: 'string' },
      access: { type: 'string' },
      pretty: { type: 'boolean' },
      'max-watches': { type: 'string' },
      'skip-missing': { type: 'boolean' },
    },
    'trace',
  );
  let mode: ModeOption = 'auto';
  let access = ACCESS_ALL;
  try {
    if (values.mode !== undefined) mode = parseMode(String(values.mode));
    if (values.access !== undefined) access = parseAccess(String(values.access));
  } catch (e) {
    throw new UsageError(`hive trace: ${errorMessage(e)}`);
  }
  if (positionals.length === 0) throw new UsageError(`hive trace: no paths given; ${TRACE_USAGE}`);
  return {
    mode,
    access,
    pretty: values.pretty === true,
    maxWatches: intOption('max-watches', values['max-watches'] as string | undefined, DEFAULT_MAX_WATCHES, 1, MAX_MAX_WATCHES),
    skipMissing: values['skip-missing'] === true,
    paths: positionals,
  };
}

export function parseProbeArgs(argv: string[]): Record<string, never> {
  const { positionals } = parse(argv, {}, 'probe');
  if (positionals.length) throw new UsageError(`hive probe: unexpected argument '${positionals[0]}'; usage: hive probe`);
  return {};
}
