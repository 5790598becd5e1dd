import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printable, printableJson } from '../../shared/printable.js';

describe('printable', () => {
  const cases: Array<[string, string, string]> = [
    ['plain text is kept', 'health check web failed: HTTP 500', 'health check web failed: HTTP 500'],
    ['ESC sequences are escaped', '\u001b[2Jx', '\\x1b[2Jx'],
    ['OSC with BEL', '\u001b]0;owned\u0007', '\\x1b]0;owned\\x07'],
    ['C1 CSI', '\u009b1m', '\\x9b1m'],
    ['carriage return and newline', 'a\rb\nc', 'a\\x0db\\x0ac'],
    ['DEL', 'a\u007f', 'a\\x7f'],
    ['a bidi override', 'abc\u202edef', 'abc\\u202edef'],
    ['non-ASCII letters are kept', 'wéb-1 ✓', 'wéb-1 ✓'],
  ];
  for (const [name, input, expected] of cases) it(name, () => assert.equal(printable(input), expected));
});

describe('printableJson', () => {
  it('escapes C1 controls and bidi marks that JSON.stringify leaves raw, and parses back to the same value', () => {
    const value = { error: 'x\u009b1m\u202e\u001b' };
    const text = printableJson(value);
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    assert.deepEqual(JSON.parse(text), value);
  });
});
