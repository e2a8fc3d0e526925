import { DataSource } from 'typeorm';
import { TransactionRunner } from './transaction-runner.js';

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
});
