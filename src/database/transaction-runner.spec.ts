import { AsyncLocalStorage } from 'node:async_hooks';
import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { MAX_RUNS_ON_CONFLICT, TransactionRunner } from './transaction-runner.js';

/** On a real SQLite database in memory: the one connection every TypeORM query shares there. */
describe(TransactionRunner.name, () => {
  let dataSource: DataSource;
  let sut: TransactionRunner;

  beforeEach(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
    }).initialize();
    await dataSource.query('CREATE TABLE t (n INTEGER)');
    sut = new TransactionRunner(dataSource);
  });
  afterEach(() => dataSource.destroy());

  it('runs overlapping units one after another on SQLite, so none sees another half-done', async () => {
    const order: string[] = [];
    const unit = (name: string) =>
      sut.run(async (manager) => {
        order.push(`${name} begins`);
        await manager.query('INSERT INTO t (n) VALUES (1)');
        await new Promise((resolve) => setTimeout(resolve, 10));
        order.push(`${name} ends`);
      });
    await Promise.all([unit('a'), unit('b'), unit('c')]);
    expect(order).toEqual(['a begins', 'a ends', 'b begins', 'b ends', 'c begins', 'c ends']);
  });

  it('rolls a failed unit back whole and goes on with the next', async () => {
    const failed = sut.run(async (manager) => {
      await manager.query('INSERT INTO t (n) VALUES (1)');
      throw new Error('boom');
    });
    const next = sut.run((manager) => manager.query('INSERT INTO t (n) VALUES (2)'));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBeDefined();
    expect(await dataSource.query('SELECT n FROM t')).toEqual([{ n: 2 }]);
  });

  it('runs a single statement queued behind a transaction under way, never inside it', async () => {
    const order: string[] = [];
    const unit = sut.run(async (manager) => {
      await manager.query('INSERT INTO t (n) VALUES (1)');
      await new Promise((resolve) => setTimeout(resolve, 10));
      order.push('transaction ends');
      throw new Error('rolled back');
    });
    const statement = sut
      .runStatement((manager) => manager.query('INSERT INTO t (n) VALUES (2)'))
      .then(() => order.push('statement'));
    await expect(unit).rejects.toThrow('rolled back');
    await statement;
    expect(order).toEqual(['transaction ends', 'statement']);
    expect(await dataSource.query('SELECT n FROM t')).toEqual([{ n: 2 }]);
  });

  const conflict = (code: string) => Object.assign(new Error(`conflict ${code}`), { code });

  it('runs a unit again after a deadlock or serialization failure, rolled back each time', async () => {
    const codes = ['40P01', '40001'];
    let runs = 0;
    await expect(
      sut.run(async (manager) => {
        await manager.query('INSERT INTO t (n) VALUES (?)', [runs]);
        const code = codes[runs++];
        if (code) throw conflict(code);
        return 'done';
      }),
    ).resolves.toBe('done');
    expect(runs).toBe(3);
    expect(await dataSource.query('SELECT n FROM t')).toEqual([{ n: 2 }]);
  });

  it(`gives a conflict up after ${MAX_RUNS_ON_CONFLICT} runs, and never runs again for other errors`, async () => {
    let runs = 0;
    await expect(
      sut.run(() => {
        runs++;
        return Promise.reject(conflict('40P01'));
      }),
    ).rejects.toThrow('conflict 40P01');
    expect(runs).toBe(MAX_RUNS_ON_CONFLICT);

    for (const code of ['23505', 'SQLITE_BUSY']) {
      runs = 0;
      await expect(
        sut.runStatement(() => {
          runs++;
          return Promise.reject(conflict(code));
        }),
      ).rejects.toThrow(`conflict ${code}`);
      expect(runs).toBe(1);
    }
  });

  describe('grouped units (runGrouped, SQLite)', () => {
    const begins = () => {
      const runner = dataSource.createQueryRunner();
      const query = jest.spyOn(runner, 'query');
      return () => query.mock.calls.filter(([sql]) => sql === 'BEGIN TRANSACTION').length;
    };

    it('commits units that arrive together in one transaction, each settling after the COMMIT', async () => {
      const countBegins = begins();
      const activeWhenSettled: boolean[] = [];
      const unit = (n: number) =>
        sut
          .runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (?)', [n]))
          .then(() => activeWhenSettled.push(dataSource.createQueryRunner().isTransactionActive));

      await Promise.all([unit(1), unit(2), unit(3)]);

      expect(countBegins()).toBe(1);
      expect(activeWhenSettled).toEqual([false, false, false]);
      expect(await dataSource.query('SELECT n FROM t ORDER BY n')).toEqual([
        { n: 1 },
        { n: 2 },
        { n: 3 },
      ]);
    });

    it("runs each unit in its caller's async context (its trace span), whoever starts the group", async () => {
      const caller = new AsyncLocalStorage<string>();
      const seen: (string | undefined)[] = [];
      const unit = (name: string) =>
        caller.run(name, () =>
          sut.runGrouped(async (manager) => {
            await manager.query('SELECT 1');
            seen.push(caller.getStore());
          }),
        );
      const queuedBehind = caller.run('statement', () =>
        sut.runStatement(async () => {
          seen.push(caller.getStore());
          await new Promise((resolve) => setTimeout(resolve, 5));
        }),
      );
      await Promise.all([queuedBehind, unit('a'), unit('b'), unit('c')]);
      expect(seen).toEqual(['statement', 'a', 'b', 'c']);
    });

    it('rolls back only the unit that failed; the others of its group commit', async () => {
      const first = sut.runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (1)'));
      const failing = sut.runGrouped(async (manager) => {
        await manager.query('INSERT INTO t (n) VALUES (2)');
        throw new Error('step not found');
      });
      const last = sut.runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (3)'));

      await expect(failing).rejects.toThrow('step not found');
      await expect(first).resolves.toBeDefined();
      await expect(last).resolves.toBeDefined();
      expect(await dataSource.query('SELECT n FROM t ORDER BY n')).toEqual([{ n: 1 }, { n: 3 }]);
    });

    it('fails every unit of a group whose COMMIT fails, none committed', async () => {
      const runner = dataSource.createQueryRunner();
      const query = runner.query.bind(runner);
      const failingCommit = jest
        .spyOn(runner, 'query')
        .mockImplementation((sql: string, ...rest: unknown[]) =>
          sql === 'COMMIT'
            ? Promise.reject(new Error('disk I/O error at COMMIT'))
            : (query as (...args: unknown[]) => Promise<unknown>)(sql, ...rest),
        );
      const units = [1, 2].map((n) =>
        sut.runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (?)', [n])),
      );
      for (const unit of units) await expect(unit).rejects.toThrow('disk I/O error at COMMIT');
      failingCommit.mockRestore();
      expect(runner.isTransactionActive).toBe(false);
      expect(await dataSource.query('SELECT n FROM t')).toEqual([]);
      await expect(
        sut.runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (9)')),
      ).resolves.toBeDefined();
    });

    it('puts the units after one the database did not answer back in the queue, to run on their own', async () => {
      const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      const countBegins = begins();
      const first = sut.runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (1)'));
      const locked = sut.runGrouped(() => Promise.reject(busy));
      const after = sut.runGrouped((manager) => manager.query('INSERT INTO t (n) VALUES (3)'));

      await expect(locked).rejects.toBe(busy);
      await expect(first).resolves.toBeDefined();
      await expect(after).resolves.toBeDefined();
      expect(countBegins()).toBe(2);
      expect(await dataSource.query('SELECT n FROM t ORDER BY n')).toEqual([{ n: 1 }, { n: 3 }]);
    });
  });
});
