import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig, DatabaseConfigType } from '../config/database.config.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { openMigrated } from './migrate.js';
import { RetentionSweeper } from './retention.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { TransactionRunner } from './transaction-runner.js';
import { TransactionalEvents } from './transactional-events.js';

/**
 * The TypeORM connection, migrated at start; the transaction runner every write goes through; and
 * the in-transaction bus (`@OnEventInTransaction`) the steps' retention asks other modules on.
 */
@Global()
@Module({
  imports: [
    DiscoveryModule,
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (config: DatabaseConfigType) => ({
        ...buildDataSourceOptions(config),
        autoLoadEntities: true,
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
