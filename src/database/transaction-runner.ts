import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/**
 * Runs units of work in a transaction. On SQLite every TypeORM query shares one connection, so two
 * transactions that overlap in time would interleave their statements (typeorm#8668); there the
 * units are queued and run one after another. PostgreSQL gets a pooled connection per transaction.
 * Every write goes through here, so no lone statement can slip into someone else's transaction.
 */
@Injectable()
export class TransactionRunner {
  private readonly serialise: boolean;
  private queueTail: Promise<unknown> = Promise.resolve();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.serialise = dataSource.options.type === 'better-sqlite3';
  }

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const transaction = () => this.dataSource.transaction(work);
    return this.serialise ? this.queued(transaction) : transaction();
  }

  /**
   * For work that is a single statement (atomic by itself): it runs without BEGIN/COMMIT, one
   * statement instead of three — on PostgreSQL on a pooled connection, on SQLite queued like any
   * transaction, so it cannot land inside someone else's.
   */
  runStatement<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.serialise ? this.queued(() => this.statement(work)) : this.statement(work);
  }

  /** Runs `unit` after every unit queued before it has settled. */
  private queued<T>(unit: () => Promise<T>): Promise<T> {
    const result = this.queueTail.then(unit);
    this.queueTail = result.catch(() => undefined);
    return result;
  }

  private async statement<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await work(runner.manager);
    } finally {
      await runner.release();
    }
  }
}
