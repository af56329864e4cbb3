// The one integer check, for command-line text and for numbers given in code:
// whole numbers only, within a range, with an error that names the setting,
// the range and what was given.
import { HiveError } from './errors';

type MakeError = (message: string) => Error;
const hiveError: MakeError = (m) => new HiveError(m);

/** `n` when it is a whole number from `min` to `max`; else throws naming `what`. */
export function checkInt(what: string, n: number, min: number, max: number, makeError: MakeError = hiveError): number {
  if (!Number.isInteger(n)) throw makeError(`${what} must be a whole number from ${min} to ${max}, got ${n}`);
  if (n < min || n > max) throw makeError(`${what} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** Decimal digits only (no sign, blanks, 0x, 1e3 or 1.0), then checkInt. */
export function parseInt10(what: string, text: string, min: number, max: number, makeError: MakeError = hiveError): number {
  if (!/^\d+$/.test(text)) throw makeError(`${what} must be a whole number from ${min} to ${max}, got '${text}'`);
  return checkInt(what, Number(text), min, max, makeError);
}
