import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from './database-unavailable.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe(isDatabaseUnavailable.name, () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a reset connection', withCode('ECONNRESET')],
    ['a PostgreSQL connection exception (08006)', withCode('08006')],
    ['a PostgreSQL shutdown (57P01)', withCode('57P01')],
    ['a statement timeout (57014)', withCode('57014')],
    ['SQLite busy past its timeout', withCode('SQLITE_BUSY')],
    ['SQLite busy, extended code', withCode('SQLITE_BUSY_SNAPSHOT')],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly')],
    ['pg: query read timeout', new Error('Query read timeout')],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect')],
    [
      'a socket error as the cause',
      Object.assign(new Error('failed'), { cause: withCode('ECONNREFUSED') }),
    ],
    [
      'a driver error inside QueryFailedError',
      new QueryFailedError('SELECT 1', [], withCode('SQLITE_BUSY')),
    ],
    [
      'an error from another realm (plain object)',
      { code: 'ECONNRESET', message: 'read ECONNRESET' },
    ],
  ])('counts %s as the database not answering', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', new QueryFailedError('INSERT', [], withCode('23505'))],
    [
      'a NOT NULL violation',
      new QueryFailedError('INSERT', [], withCode('SQLITE_CONSTRAINT_NOTNULL')),
    ],
    ['a syntax error', withCode('42601')],
    ['a plain bug', new TypeError('x is undefined')],
    ['nothing', undefined],
  ])('does not count %s (that stays a 500 or its own answer)', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
