import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { RetentionConfig } from '../config/retention.config.js';
import { StephookMetrics } from '../metrics/stephook-metrics.js';
import { isPostgres, queryRows } from './raw-sql.js';
import { TransactionRunner } from './transaction-runner.js';
import { RETENTION_CONFIG } from '../config/stephook-config.module.js';

/** Where a pass over a table has got to, in (created_at, id) order. */
export interface RetentionCursor {
  readonly createdAt: string;
  readonly id: string;
}

/** One kind of row that ages out, owned by the module whose table it is. */
export interface RetentionRule {
  /** The metric's label: `deliveries_delivered`. */
  readonly key: string;
  /** What it deletes, for logs: `delivered deliveries`. */
  readonly name: string;
  /** Rows created longer ago than this go. */
  readonly maxAgeMs: number;
  /**
   * In `manager`'s transaction: looks at up to `limit` rows created before `cutoff`, after
   * `cursor`, in (created_at, id) order, and deletes those that may go. Returns how many it deleted
   * and the last row it looked at, or null when it looked at fewer than `limit` (the pass is over).
   */
  deleteBatch(
    manager: EntityManager,
    cutoff: string,
    cursor: RetentionCursor | null,
    limit: number,
  ): Promise<{ deleted: number; cursor: RetentionCursor | null }>;
}

/** A batch should hold the database for about this long; the batch size follows what it measures. */
const BATCH_TARGET_MS = 3;
const BATCH_MIN = 10;
const BATCH_START = 100;
const BATCH_MAX = 2_000;
/** After each batch the sweeper pauses this many times as long as the batch took (at least 2 ms): other work goes first. */
const PAUSE_FACTOR = 2;
const PAUSE_MIN_MS = 2;
/** Passes run at least once a minute, and twice per shortest retention period when that is shorter. */
const PASS_INTERVAL_MAX_MS = 60_000;
const PASS_INTERVAL_MIN_MS = 1_000;
/** SQLite pages freed per `PRAGMA incremental_vacuum` statement (4 KiB each; about 4 ms). */
const VACUUM_PAGES = 200;
/** The first key of the PostgreSQL advisory locks; the second names the rule. */
export const RETENTION_LOCK_CLASS = 739_041;

/**
 * Deletes what has aged out, in the background: at start and then every pass interval, each rule in
 * small batches whose size keeps one transaction to a few milliseconds, with a pause after each so
 * requests go first. On PostgreSQL a rule's pass runs in one process at a time (a session advisory
 * lock per rule; a dead process's lock goes with its connection). On SQLite the freed pages are
 * given back to the file system afterwards (the file is in incremental auto-vacuum mode, see
 * `migrate.ts`). Modules add the rules for their own tables.
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionSweeper.name);
  private readonly rules: RetentionRule[] = [];
  private readonly batchSizes = new Map<RetentionRule, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The pass under way (or the last one): passes in one process never overlap. */
  private passes: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(RETENTION_CONFIG) private readonly config: RetentionConfig,
    private readonly transactions: TransactionRunner,
    @Optional() private readonly metrics?: StephookMetrics,
  ) {}

  /** Called by the owning module while it initialises. */
  add(rule: RetentionRule): void {
    this.rules.push(rule);
  }

  get intervalMs(): number {
    const periods = this.rules.map((rule) => rule.maxAgeMs / 2);
    return Math.max(PASS_INTERVAL_MIN_MS, Math.min(PASS_INTERVAL_MAX_MS, ...periods));
  }

  onApplicationBootstrap(): void {
    if (this.rules.length > 0) this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.passes.catch(() => undefined);
  }

  /**
   * One pass over every rule, after any pass under way; resolves with what each rule deleted
   * (tests and the bench call it directly).
   */
  sweep(now?: Date): Promise<Map<RetentionRule, number>> {
    const pass = this.passes.catch(() => undefined).then(() => this.pass(now ?? new Date()));
    this.passes = pass;
    return pass;
  }

  private async pass(now: Date): Promise<Map<RetentionRule, number>> {
    const deleted = new Map<RetentionRule, number>();
    for (const rule of this.rules) {
      if (this.stopped) break;
      deleted.set(rule, await this.sweepRule(rule, now));
    }
    if ([...deleted.values()].some((count) => count > 0)) await this.vacuum();
    return deleted;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.sweep()
        .catch((error: unknown) =>
          this.logger.warn(`Retention pass failed (${String(error)}); the next pass tries again`),
        )
        .finally(() => {
          if (!this.stopped) this.schedule(this.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async sweepRule(rule: RetentionRule, now: Date): Promise<number> {
    const cutoff = new Date(now.getTime() - rule.maxAgeMs).toISOString();
    return this.whileLocked(rule, async () => {
      const started = performance.now();
      let total = 0;
      let cursor: RetentionCursor | null = null;
      do {
        const limit = this.batchSizes.get(rule) ?? BATCH_START;
        // Timed from its first statement to its commit: the wait for the requests queued before
        // it is not its cost, the commit (with any WAL checkpoint it sets off) is.
        let batchStarted = 0;
        const batch = await this.transactions.run((manager) => {
          batchStarted = performance.now();
          return rule.deleteBatch(manager, cutoff, cursor, limit);
        }, 'background');
        const tookMs = performance.now() - batchStarted;
        this.batchSizes.set(rule, nextBatchSize(limit, tookMs, batch.cursor !== null));
        total += batch.deleted;
        cursor = batch.cursor;
        this.metrics?.recordPurged(rule.key, batch.deleted);
        if (cursor) await sleep(Math.max(PAUSE_MIN_MS, tookMs * PAUSE_FACTOR));
      } while (cursor && !this.stopped);
      if (total > 0) {
        this.logger.log(
          `Retention: deleted ${total} ${rule.name} created before ${cutoff} in ${Math.round(performance.now() - started)} ms`,
        );
      }
      return total;
    });
  }

  /**
   * The better-sqlite3 handle, on SQLite: its pragma() steps a statement to the end, where a query
   * through TypeORM steps it once (which frees one page of an incremental vacuum).
   */
  private sqlite(): SqliteHandle | null {
    if (this.dataSource.options.type !== 'better-sqlite3') return null;
    return (this.dataSource.driver as unknown as { databaseConnection: SqliteHandle })
      .databaseConnection;
  }

  /** On PostgreSQL, runs `work` only if no other process holds the rule's lock (else 0). */
  private async whileLocked(rule: RetentionRule, work: () => Promise<number>): Promise<number> {
    if (this.dataSource.options.type !== 'postgres') return work();
    const key = lockKey(rule.key);
    const runner = this.dataSource.createQueryRunner();
    try {
      const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1, $2) AS locked', [
        RETENTION_LOCK_CLASS,
        key,
      ])) as { locked: boolean }[];
      if (!locked) return 0;
      try {
        return await work();
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1, $2)', [RETENTION_LOCK_CLASS, key]);
      }
    } finally {
      await runner.release();
    }
  }

  /** SQLite: gives the pages freed by the pass back to the file system, a few at a time. */
  private async vacuum(): Promise<void> {
    const db = this.sqlite();
    if (!db) return;
    for (;;) {
      if (this.stopped) return;
      const started = performance.now();
      const left = await this.transactions.runStatement(async () => {
        db.pragma(`incremental_vacuum(${VACUUM_PAGES})`);
        return db.pragma('freelist_count', { simple: true }) as number;
      }, 'background');
      if (left === 0) return;
      await sleep(Math.max(PAUSE_MIN_MS, (performance.now() - started) * PAUSE_FACTOR));
    }
  }
}

/** The part of better-sqlite3's Database that the vacuum uses. */
interface SqliteHandle {
  pragma(source: string, options?: { simple: boolean }): unknown;
}

/** Halves a batch that held the database too long; doubles one that was quick and full. */
export function nextBatchSize(limit: number, tookMs: number, full: boolean): number {
  if (tookMs > BATCH_TARGET_MS) return Math.max(BATCH_MIN, Math.floor(limit / 2));
  if (full && tookMs < BATCH_TARGET_MS / 2) return Math.min(BATCH_MAX, limit * 2);
  return limit;
}

/** A rule's key as the second int4 key of its advisory lock: the same in every process. */
export function lockKey(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0);
}

/**
 * The ids of up to `limit` rows of `table` created before `cutoff` and after `cursor`, oldest first,
 * that also meet `condition`, with the cursor to go on from (null when fewer than `limit` were left).
 * On PostgreSQL they are locked for the transaction, and rows another transaction holds are skipped
 * (the next pass finds them). Reads the table's (created_at, id) index.
 */
export async function expiredRows(
  manager: EntityManager,
  table: string,
  condition: string,
  parameters: Record<string, unknown>,
  cutoff: string,
  cursor: RetentionCursor | null,
  limit: number,
): Promise<{ ids: string[]; cursor: RetentionCursor | null }> {
  const after = cursor
    ? ' AND created_at >= :afterAt AND (created_at > :afterAt OR id > :afterId)'
    : '';
  const lock = isPostgres(manager) ? ' FOR UPDATE SKIP LOCKED' : '';
  const rows = (await queryRows(
    manager,
    `SELECT id, created_at FROM ${table} WHERE created_at < :cutoff${after} AND ${condition}
     ORDER BY created_at, id LIMIT :limit${lock}`,
    { ...parameters, cutoff, limit, afterAt: cursor?.createdAt, afterId: cursor?.id },
  )) as { id: string; created_at: string }[];
  const last = rows.at(-1);
  return {
    ids: rows.map((row) => row.id),
    cursor: rows.length === limit && last ? { createdAt: last.created_at, id: last.id } : null,
  };
}
