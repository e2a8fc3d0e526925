import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseConfig } from '../config/database.config.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { openMigrated } from './migrate.js';
import { RetentionSweeper } from './retention.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { TransactionRunner } from './transaction-runner.js';
import { TransactionalEvents } from './transactional-events.js';
import { DATABASE_CONFIG } from '../config/stephook-config.module.js';

/**
 * The TypeORM connection, migrated at start; the transaction runner every write goes through; and
 * the in-transaction bus (`@OnEventInTransaction`) the steps' retention asks other modules on.
 */
@Global()
@Module({
  imports: [
    DiscoveryModule,
    TypeOrmModule.forRootAsync({
      inject: [DATABASE_CONFIG],
      useFactory: (config: DatabaseConfig) => ({
        ...buildDataSourceOptions(config),
        autoLoadEntities: true,
        // A database that does not answer at start: a line per try saying why (its stack adds
        // nothing: StephookLogger leaves it to LOG_LEVEL=debug), then the start stops with one line.
        verboseRetryLog: true,
      }),
      // Migrated before anything can use it; on PostgreSQL under a lock, so processes started
      // together do not run the same migration twice.
      dataSourceFactory: (options) => openMigrated(options!),
    }),
  ],
  providers: [TransactionRunner, TransactionalEvents, RetentionSweeper, SqliteCheckpointer],
  exports: [TransactionRunner, TransactionalEvents, RetentionSweeper],
})
export class DatabaseModule {}
