import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { CheckpointWorkerData } from './sqlite-checkpoint.worker.js';

/** How often the checkpoint thread copies the write-ahead log into the database file. */
export const CHECKPOINT_INTERVAL_MS = 250;
/** How long a stop waits for the thread to close its connection before ending it. */
const STOP_WAIT_MS = 2_000;

interface Pragmas {
  pragma(source: string): unknown;
}

/**
 * SQLite's checkpoints off the event loop. By default the connection that commits copies the
 * write-ahead log into the database file every 1,000 pages, and that copy ends with an fsync
 * (synchronous=NORMAL): a commit now and then held the event loop for milliseconds, which is
 * where the tail of commit-to-receiver latency came from. Here the process's connection never
 * checkpoints (`wal_autocheckpoint = 0`); a worker thread with its own connection does
 * (sqlite-checkpoint.worker.ts). If that thread cannot run (a `:memory:` database, or running from
 * sources where the worker is not built) or fails, the connection checkpoints as before.
 */
@Injectable()
export class SqliteCheckpointer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private worker: Worker | null = null;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    const options = this.dataSource.options;
    if (options.type !== 'better-sqlite3' || options.database === ':memory:') return;
    const script = new URL('./sqlite-checkpoint.worker.js', import.meta.url);
    if (!existsSync(script)) return;
    const connection = this.connection();
    const workerData: CheckpointWorkerData = {
      path: options.database,
      intervalMs: CHECKPOINT_INTERVAL_MS,
    };
    const worker = new Worker(script, { workerData });
    worker.unref();
    worker.on('message', (message: { failed?: string }) => {
      if (message.failed) this.logger.warn(`A SQLite checkpoint failed: ${message.failed}`);
    });
    worker.on('error', (error) => this.fallBack(error.message));
    worker.on('exit', (code) => {
      if (this.worker === worker && code !== 0) this.fallBack(`its thread exited with ${code}`);
    });
    connection.pragma('wal_autocheckpoint = 0');
    this.worker = worker;
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const timer = setTimeout(() => void worker.terminate(), STOP_WAIT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** The thread is gone: the process's connection checkpoints again, as SQLite does by default. */
  private fallBack(reason: string): void {
    if (!this.worker) return;
    this.worker = null;
    this.logger.warn(`SQLite checkpoints are back on the main connection: ${reason}`);
    try {
      this.connection().pragma('wal_autocheckpoint = 1000');
    } catch {
      // The data source is closing: nothing left to checkpoint for.
    }
  }

  private connection(): Pragmas {
    return (this.dataSource.driver as unknown as { databaseConnection: Pragmas })
      .databaseConnection;
  }
}
