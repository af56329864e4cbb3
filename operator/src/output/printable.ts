// Text for a terminal. What a workload names — file names, its comm, its
// executable, symlink targets, pod names — may hold any byte but '/' and NUL:
// an escape sequence that erases or rewrites the operator's screen, a newline
// that forges a line, a bidirectional control that reorders what is read.
// Every human renderer (--pretty, hive logs, report, explain) passes what it
// prints through printable(); JSON outputs are exact already (JSON escapes).

/** C0 and C1 controls, DEL, the line and paragraph separators, bidi embeddings, overrides and isolates, and the backslash that introduces an escape. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'g');

function escape(c: string): string {
  if (c === '\\') return '\\\\';
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** `s` with every character a terminal would act on written as \xNN or \u{NNNN} (and '\' as '\\'): one line, shown as it is. */
export function printable(s: string): string {
  return UNPRINTABLE.test(s) ? s.replace(UNPRINTABLE_ALL, escape) : s;
}
