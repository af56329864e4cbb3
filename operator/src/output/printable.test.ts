import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from './printable';

test('controls, DEL, C1, line separators and bidi controls become \\xNN or \\u{N}; a backslash doubles; the rest passes as is', () => {
  assert.equal(printable('/etc/ok ← é 名'), '/etc/ok ← é 名');
  assert.equal(printable('a\u0000b\tc\nd\re\u001b[2Kf\u007fg\u0085h\u009bi'), 'a\\x00b\\x09c\\x0ad\\x0de\\x1b[2Kf\\x7fg\\x85h\\x9bi');
  assert.equal(printable('x\u2028y\u2029z\u202ew\u2066v\u2069'), 'x\\u{2028}y\\u{2029}z\\u{202e}w\\u{2066}v\\u{2069}');
  assert.equal(printable('C:\\x1b'), 'C:\\\\x1b');
  // the same answer call after call (no state kept between calls)
  for (let i = 0; i < 3; i++) assert.equal(printable('\n'), '\\x0a');
});
