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

  it('rolls a failed unit back whole, runs its rollback hooks, and goes on with the next', async () => {
    let hookRan = 0;
    const failed = sut.run(async (manager) => {
      sut.onRollback(manager, () => (hookRan += 1));
      await manager.query('INSERT INTO t (n) VALUES (1)');
      throw new Error('boom');
    });
    const next = sut.run((manager) => manager.query('INSERT INTO t (n) VALUES (2)'));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBeDefined();
    expect(hookRan).toBe(1);
    expect(await dataSource.query('SELECT n FROM t')).toEqual([{ n: 2 }]);
  });

  it('does not run rollback hooks of a unit that commits', async () => {
    let hookRan = false;
    await sut.run(async (manager) => {
      sut.onRollback(manager, () => (hookRan = true));
      await manager.query('INSERT INTO t (n) VALUES (1)');
    });
    expect(hookRan).toBe(false);
  });

  it('refuses a rollback hook outside a transaction it started', () => {
    expect(() => sut.onRollback(dataSource.manager, () => undefined)).toThrow('onRollback needs');
  });
});
