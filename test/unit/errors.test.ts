import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../shared/cli.js';
import { ConfigError } from '../../shared/config-file.js';
import { SignatureError } from '../../shared/dsse.js';
import { EnvironmentError, EXIT, exitCodeFor, OperatorError, UserError } from '../../shared/errors.js';

describe('exitCodeFor', () => {
  const cases: [string, unknown, number][] = [
    ['an operator mistake', new OperatorError('bad flag'), EXIT.usage],
    ['a usage error', new UsageError('missing --host'), EXIT.usage],
    ['a refused input', new SignatureError(0, 1), EXIT.rejected],
    ['an environment failure', new EnvironmentError('cannot read'), EXIT.failure],
    ['an invalid config file', new ConfigError('/etc/x.json', ['host: required']), EXIT.failure],
    ['a plain user error', new UserError('x'), EXIT.failure],
    ['a bug', new TypeError('x is undefined'), EXIT.failure],
  ];
  for (const [what, error, code] of cases) {
    it(`maps ${what} to exit ${code}`, () => assert.equal(exitCodeFor(error), code));
  }
});
