import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from './raw-sql.js';

/**
 * The named-parameter binder under the hand-written hot-path SQL, on real SQLite (the PostgreSQL
 * side, with `$n` placeholders and `::` casts, is in test/services/postgres.services-spec.ts).
 */
describe(queryRows.name, () => {
  let dataSource: DataSource;
  const withManager = async <T>(work: (manager: EntityManager) => Promise<T>): Promise<T> => {
    const runner = dataSource.createQueryRunner();
    try {
      return await work(runner.manager);
    } finally {
      await runner.release();
    }
  };

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
    }).initialize();
  });
  afterAll(() => dataSource.destroy());

  it('binds each named parameter by value, never into the SQL text, however often it appears', async () => {
    const rows = await withManager((manager) =>
      queryRows(manager, "SELECT :a AS a, :b AS b, :a || '-' || :b AS ab", {
        a: "x'; DROP",
        b: 'y',
      }),
    );
    expect(rows).toEqual([{ a: "x'; DROP", b: 'y', ab: "x'; DROP-y" }]);
  });

  it('spreads :...list into one placeholder per element', async () => {
    const rows = await withManager((manager) =>
      queryRows(
        manager,
        'SELECT value FROM json_each(:all) WHERE value IN (:...picked) ORDER BY value',
        { all: '[1,2,3,4]', picked: [2, 4] },
      ),
    );
    expect(rows).toEqual([{ value: 2 }, { value: 4 }]);
  });

  it('refuses a parameter with no value instead of sending NULL', async () => {
    await expect(
      withManager((manager) => queryRows(manager, 'SELECT :missing AS m', {})),
    ).rejects.toThrow('SQL parameter :missing has no value');
  });
});
