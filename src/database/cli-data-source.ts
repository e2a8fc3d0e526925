// The data source the TypeORM CLI loads (`npm run migration:run` and friends), on the configuration
// the API and the workers read: a bad variable stops the CLI with the same one line.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadValidConfig } from '../config/load-valid-config.js';
import { buildDataSourceOptions } from './data-source-options.js';

export default new DataSource(buildDataSourceOptions(loadValidConfig().database, 'migrate'));
