import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig, DatabaseConfigType } from '../config/database.config.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { openMigrated } from './migrate.js';
import { TransactionRunner } from './transaction-runner.js';
import { TransactionalListeners } from './transactional-listeners.js';

/**
 * The TypeORM connection, migrated at start; the transaction runner every write goes through; and
 * the listeners that write inside another module's transaction.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (config: DatabaseConfigType) => buildDataSourceOptions(config),
      // Migrated before anything can use it; on PostgreSQL under a lock, so processes started
      // together do not run the same migration twice.
      dataSourceFactory: (options) => openMigrated(options!),
    }),
  ],
  providers: [TransactionRunner, TransactionalListeners],
  exports: [TransactionRunner, TransactionalListeners],
})
export class DatabaseModule {}
