import { jest } from '@jest/globals';
import { DataSource, QueryFailedError } from 'typeorm';
import { PreparedStatement } from './prepared-statements.js';

/**
 * The hot path's prepared statements on real SQLite, on TypeORM's own connection (the PostgreSQL
 * side, pg named statements, runs in test/services/postgres.services-spec.ts).
 */
describe(PreparedStatement.name, () => {
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
    }).initialize();
    await dataSource.query('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, flag INTEGER)');
  });
  afterAll(() => dataSource.destroy());
  beforeEach(() => dataSource.query('DELETE FROM t'));

  const insert = new PreparedStatement(
    't_insert',
    'INSERT INTO t (id, n, flag) VALUES (:id, :n, :flag)',
  );
  const bump = new PreparedStatement<{ id: string; n: number }>(
    't_bump',
    'UPDATE t SET n = n + :by WHERE id = :id AND n < :by + 10 RETURNING id, n',
  );

  it('binds named parameters by value, each as often as it appears, and returns the rows', async () => {
    await dataSource.transaction(async (manager) => {
      await insert.rows(manager, { id: "a'; DROP TABLE t", n: 1, flag: true });
      expect(await bump.rows(manager, { id: "a'; DROP TABLE t", by: 2 })).toEqual([
        { id: "a'; DROP TABLE t", n: 3 },
      ]);
    });
    expect(await dataSource.query('SELECT flag FROM t')).toEqual([{ flag: 1 }]);
  });

  it('prepares once per connection and reuses the statement', async () => {
    const database = dataSource.driver as unknown as {
      databaseConnection: { prepare: (text: string) => unknown };
    };
    const prepare = jest.spyOn(database.databaseConnection, 'prepare');
    try {
      const fresh = new PreparedStatement('t_count', 'SELECT count(*) AS c FROM t WHERE n >= :n');
      for (let i = 0; i < 3; i++) {
        await dataSource.transaction((manager) => fresh.rows(manager, { n: i }));
      }
      expect(prepare.mock.calls.filter(([text]) => text.includes('count(*)'))).toHaveLength(1);
    } finally {
      prepare.mockRestore();
    }
  });

  it('writes inside the transaction TypeORM opened: a rollback takes its rows back', async () => {
    await expect(
      dataSource.transaction(async (manager) => {
        await insert.rows(manager, { id: 'rolled-back', n: 1, flag: false });
        throw new Error('later failure');
      }),
    ).rejects.toThrow('later failure');
    expect(await dataSource.query('SELECT id FROM t')).toEqual([]);
  });

  it("fails with TypeORM's QueryFailedError, carrying the driver's code", async () => {
    await dataSource.transaction((manager) => insert.rows(manager, { id: 'x', n: 1, flag: 0 }));
    const failure = dataSource.transaction((manager) =>
      insert.rows(manager, { id: 'x', n: 2, flag: 0 }),
    );
    await expect(failure).rejects.toBeInstanceOf(QueryFailedError);
    await expect(failure).rejects.toMatchObject({
      driverError: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' },
    });
  });

  it('refuses a parameter with no value, a list parameter, and a manager without a runner', async () => {
    await expect(
      dataSource.transaction((manager) => insert.rows(manager, { id: 'y', n: 1 })),
    ).rejects.toThrow('SQL parameter :flag has no value');
    expect(() => new PreparedStatement('t_list', 'SELECT * FROM t WHERE id IN (:...ids)')).toThrow(
      'A prepared statement takes no list parameter (:...ids)',
    );
    await expect(insert.rows(dataSource.manager, { id: 'z', n: 1, flag: 0 })).rejects.toThrow(
      'needs the manager of a query runner',
    );
  });
});
