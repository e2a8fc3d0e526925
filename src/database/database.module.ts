import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig, DatabaseConfigType } from '../config/database.config.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { TransactionRunner } from './transaction-runner.js';

/** The TypeORM connection, migrated at start, and the transaction runner every write goes through. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (config: DatabaseConfigType) => ({
        ...buildDataSourceOptions(config),
        migrationsRun: true,
      }),
    }),
  ],
  providers: [TransactionRunner],
  exports: [TransactionRunner],
})
export class DatabaseModule {}
