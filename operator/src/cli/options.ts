// Option tables: each command's options are defined once (name, value kind,
// default, environment variable, help text), and node's parseArgs options,
// the one-line usage and the --help text are all made from that table, so
// what the parser accepts and what the help shows cannot drift apart.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { UsageError, errorMessage } from '../util/errors';
import { parseInt10 } from '../util/int';

export type OptionKind =
  /** --pretty: present or not */
  | 'flag'
  /** --mode auto */
  | 'string'
  /** --max-watches 10: decimal digits within min..max */
  | 'int'
  /** --pod-ip A,B --pod-ip C: repeatable, each also comma-separated */
  | 'list';

export interface OptionDef {
  name: string;
  short?: string;
  kind: OptionKind;
  /** How the value reads in usage: PATH, N, auto|kprobe|... (not for flags). */
  value?: string;
  help: string;
  /** Used when neither the option nor its environment variable is given. */
  default?: string | number;
  /** A default known only at run time, and how --help describes it. */
  defaultFrom?: { text: string; value: () => string };
  /** Read when the option is not given (an empty variable counts as unset). */
  env?: string;
  /** int: the allowed range (inclusive). */
  min?: number;
  max?: number;
  /** string: the allowed values. */
  choices?: readonly string[];
  /** The command refuses to run without it. */
  required?: boolean;
}

export interface CommandDef {
  name: string;
  /** One line, for `hive --help`. */
  summary: string;
  options: readonly OptionDef[];
  /** Positional arguments, when the command takes any. */
  args?: { text: string; help: string; missing: string };
  /** Environment the command reads besides its options' variables. */
  env?: readonly { name: string; help: string }[];
}

export type OptionValue = string | number | boolean | string[] | undefined;

export interface Parsed {
  /** By option name: flags are booleans, lists arrays (maybe empty), ints numbers; undefined when unset without default. */
  values: Record<string, OptionValue>;
  positionals: string[];
}

const HELP: OptionDef = { name: 'help', short: 'h', kind: 'flag', help: 'show this help and exit' };

type ParseArgsOptions = NonNullable<ParseArgsConfig['options']>;

/** The options handed to node's parseArgs: exactly the table's, plus --help. */
export function parseArgsOptions(cmd: CommandDef): ParseArgsOptions {
  const out: ParseArgsOptions = {};
  for (const o of [...cmd.options, HELP]) {
    out[o.name] = {
      type: o.kind === 'flag' ? 'boolean' : 'string',
      ...(o.kind === 'list' ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    };
  }
  return out;
}

function flagText(o: OptionDef, sep = '|'): string {
  const names = o.short ? `-${o.short}${sep}--${o.name}` : `--${o.name}`;
  return o.kind === 'flag' ? names : `${names} ${o.value ?? 'VALUE'}${o.kind === 'list' ? '...' : ''}`;
}

/** One line: `usage: hive netmon --pod-ip IP... [--pretty] ...` (fits in a one-line error). */
export function usageLine(cmd: CommandDef): string {
  const parts = cmd.options.map((o) => (o.required ? flagText(o) : `[${flagText(o)}]`));
  // required options first, as a reader looks for them first
  parts.sort((a, b) => Number(a.startsWith('[')) - Number(b.startsWith('[')));
  return ['usage: hive', cmd.name, ...parts, ...(cmd.args ? [cmd.args.text] : [])].join(' ');
}

function defaultText(o: OptionDef): string | undefined {
  if (o.defaultFrom) return o.defaultFrom.text;
  return o.default === undefined ? undefined : String(o.default);
}

/** `hive CMD --help`: usage, summary, then one entry per option (and argument and variable). */
export function helpText(cmd: CommandDef): string {
  const rows: [string, string][] = [];
  if (cmd.args) rows.push([cmd.args.text, cmd.args.help]);
  for (const o of [...cmd.options, HELP]) {
    const notes = [
      o.required ? 'required' : undefined,
      o.kind === 'list' ? 'repeatable, or comma-separated' : undefined,
      o.kind === 'int' && o.min !== undefined ? `${o.min} to ${o.max}` : undefined,
      o.env ? `env ${o.env}` : undefined,
      defaultText(o) !== undefined ? `default ${defaultText(o)}` : undefined,
    ].filter(Boolean);
    rows.push([flagText(o, ', '), notes.length ? `${o.help} (${notes.join('; ')})` : o.help]);
  }
  for (const e of cmd.env ?? []) rows.push([`env ${e.name}`, e.help]);
  const width = 30;
  const lines = rows.map(([left, right]) => (left.length < width ? `  ${left.padEnd(width)}${right}` : `  ${left}\n  ${' '.repeat(width)}${right}`));
  return `${usageLine(cmd)}\n\n${cmd.summary}\n\noptions:\n${lines.join('\n')}\n`;
}

/** Whether argv asks for --help (or -h) anywhere before `--`, whatever else it holds. */
export function wantsHelp(cmd: CommandDef, argv: string[]): boolean {
  const { tokens } = parseArgs({ args: argv, options: parseArgsOptions(cmd), allowPositionals: true, strict: false, tokens: true });
  return tokens.some((t) => t.kind === 'option' && t.name === HELP.name);
}

/** Repeatable list options also take comma-separated values. */
export function listValues(v: unknown): string[] {
  const raw = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return raw.flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
}

/** A bad-input error of command `cmd`: one line, `hive CMD: why`. */
export function usageError(cmd: CommandDef, why: string): UsageError {
  return new UsageError(`hive ${cmd.name}: ${why}`);
}

/**
 * Parses argv by the command's table: unknown options, missing values, bad
 * numbers and choices, missing required options or arguments and unexpected
 * arguments are UsageErrors of one line. Values fall back to the option's
 * environment variable, then its default.
 */
export function parseCommand(cmd: CommandDef, argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: parseArgsOptions(cmd), allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages run over lines and sentences ("To specify a positional argument..."): the first is the point
    const first = errorMessage(e).split('\n')[0].split('. ')[0].replace(/\.$/, '');
    throw usageError(cmd, `${first}; see 'hive ${cmd.name} --help'`);
  }
  const given = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const values: Record<string, OptionValue> = {};
  for (const o of cmd.options) {
    const fromEnv = o.env !== undefined && given[o.name] === undefined && !!env[o.env];
    const raw = fromEnv ? env[o.env as string] : given[o.name];
    const what = fromEnv ? `${o.env} (--${o.name})` : `--${o.name}`;
    switch (o.kind) {
      case 'flag':
        values[o.name] = raw === true;
        break;
      case 'list':
        values[o.name] = raw === undefined ? listValues(o.default) : listValues(raw);
        if (o.required && (values[o.name] as string[]).length === 0) throw usageError(cmd, `no --${o.name} given; ${usageLine(cmd)}`);
        break;
      case 'int':
        values[o.name] =
          raw === undefined
            ? (o.default as number | undefined)
            : parseInt10(what, String(raw), o.min ?? 0, o.max ?? Number.MAX_SAFE_INTEGER, (m) => usageError(cmd, m));
        break;
      case 'string': {
        const v = raw === undefined ? (o.defaultFrom?.value() ?? (o.default as string | undefined)) : String(raw);
        if (v !== undefined && o.choices && !o.choices.includes(v)) {
          const allowed = o.choices.length === 2 ? o.choices.join(' or ') : `one of ${o.choices.join(', ')}`;
          throw usageError(cmd, `${what} must be ${allowed}, got '${v}'`);
        }
        values[o.name] = v;
        break;
      }
    }
    if (o.required && values[o.name] === undefined) throw usageError(cmd, `no --${o.name} given; ${usageLine(cmd)}`);
  }
  if (!cmd.args && parsed.positionals.length) {
    throw usageError(cmd, `unexpected argument '${parsed.positionals[0]}'; ${usageLine(cmd)}`);
  }
  if (cmd.args && parsed.positionals.length === 0) throw usageError(cmd, `${cmd.args.missing}; ${usageLine(cmd)}`);
  return { values, positionals: parsed.positionals };
}
