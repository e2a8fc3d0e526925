import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { isTransientConflict } from './transient-conflict.js';

/** How many times a unit of work runs before a deadlock or serialization failure is given up. */
export const MAX_RUNS_ON_CONFLICT = 5;

/**
 * Runs units of work in a transaction. On SQLite every TypeORM query shares one connection, so two
 * transactions that overlap in time would interleave their statements (typeorm#8668); there the
 * units are queued and run one after another. PostgreSQL gets a pooled connection per transaction.
 * Every write goes through here, so no lone statement can slip into someone else's transaction.
 *
 * A unit that a deadlock or serialization failure rolled back (PostgreSQL 40P01/40001) is run
 * again, up to MAX_RUNS_ON_CONFLICT times, after a short random pause: such a failure is about what
 * ran beside the unit, not the unit, and must not reach a caller as a 500.
 * Units must therefore be safe to run again: database work only, side effects after the commit.
 */
@Injectable()
export class TransactionRunner {
  private readonly serialise: boolean;
  /** On SQLite, units waiting for the connection: the urgent ones go first. */
  private readonly waiting: Record<Lane, (() => void)[]> = { urgent: [], background: [] };
  private running = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.serialise = dataSource.options.type === 'better-sqlite3';
  }

  /**
   * `lane`: `background` for work no request or first attempt waits on (recording attempts,
   * claiming backlogs and retries, housekeeping). On SQLite, where units run one at a time, an
   * urgent unit (the default: a step's transition, its first attempts' claim, an API change) goes
   * before every background unit still waiting, so a busy backlog never queues a terminal call.
   */
  run<T>(work: (manager: EntityManager) => Promise<T>, lane: Lane = 'urgent'): Promise<T> {
    const transaction = () => againOnConflict(() => this.dataSource.transaction(work));
    return this.serialise ? this.queued(transaction, lane) : transaction();
  }

  /**
   * For work that is a single statement (atomic by itself): it runs without BEGIN/COMMIT, one
   * statement instead of three — on PostgreSQL on a pooled connection, on SQLite queued like any
   * transaction, so it cannot land inside someone else's.
   */
  runStatement<T>(work: (manager: EntityManager) => Promise<T>, lane: Lane = 'urgent'): Promise<T> {
    const statement = () => againOnConflict(() => this.statement(work));
    return this.serialise ? this.queued(statement, lane) : statement();
  }

  /** Runs `unit` once every unit before it has settled: urgent ones first, each lane in order. */
  private queued<T>(unit: () => Promise<T>, lane: Lane): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting[lane].push(() => {
        unit()
          .then(resolve, reject)
          .finally(() => {
            this.running = false;
            this.next();
          });
      });
      this.next();
    });
  }

  private next(): void {
    if (this.running) return;
    const unit = this.waiting.urgent.shift() ?? this.waiting.background.shift();
    if (!unit) return;
    this.running = true;
    unit();
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

/** Which units go first on SQLite (`TransactionRunner.run`). */
export type Lane = 'urgent' | 'background';

async function againOnConflict<T>(unit: () => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await unit();
    } catch (error) {
      if (run >= MAX_RUNS_ON_CONFLICT || !isTransientConflict(error)) throw error;
      // Random, growing pauses, so the transactions that collided do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * run));
    }
  }
}
