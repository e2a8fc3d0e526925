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
});
