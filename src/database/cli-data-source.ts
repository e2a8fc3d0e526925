// The data source the TypeORM CLI loads (`npm run migration:run` and friends), from DATABASE_URL.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { parseDatabaseConfig } from '../config/database.config.js';
import { loadEnvFile } from '../config/load-env-file.js';
import { buildDataSourceOptions } from './data-source-options.js';

loadEnvFile();
export default new DataSource(buildDataSourceOptions(parseDatabaseConfig(process.env), 'migrate'));
