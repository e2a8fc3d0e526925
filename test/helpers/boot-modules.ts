import type { DynamicModule, Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test, TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Env } from '../../src/config/env.js';
import { StephookConfigModule } from '../../src/config/stephook-config.module.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { MetricsModule } from '../../src/metrics/metrics.module.js';
import { RecordingLogger } from './recording-logger.js';
import { testConfig } from './test-config.js';

export interface BootedModules {
  moduleRef: TestingModule;
  dataSource: DataSource;
  logs: RecordingLogger;
  close(): Promise<void>;
}

/**
 * Only the modules a spec is about, with what every module may rely on (config, the event bus,
 * a migrated in-memory SQLite database, metrics) and the variables in `env`: no HTTP
 * server, no AppModule. Lifecycle hooks run, so schedulers start as they would in the app.
 */
export async function bootModules(
  modules: (Type | DynamicModule)[],
  env: Env = {},
): Promise<BootedModules> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      StephookConfigModule.forRoot(testConfig(env)),
      EventEmitterModule.forRoot(),
      DatabaseModule,
      MetricsModule,
      ...modules,
    ],
  }).compile();
  const logs = new RecordingLogger();
  moduleRef.useLogger(logs);
  await moduleRef.init();
  return {
    moduleRef,
    dataSource: moduleRef.get<DataSource>(getDataSourceToken()),
    logs,
    close: () => moduleRef.close(),
  };
}
