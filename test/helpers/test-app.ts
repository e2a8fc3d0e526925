import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { App } from 'supertest/types.js';
import type { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import { APP_OPTIONS, createHttpAdapter, fastifyOf, setUpApp } from '../../src/app.setup.js';
import type { Env } from '../../src/config/env.js';
import { ApiContract } from './api-contract.js';
import { RecordingLogger } from './recording-logger.js';
import { testConfig } from './test-config.js';

export interface TestApp {
  app: INestApplication<App>;
  server: App;
  logs: RecordingLogger;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * The whole app as main.ts builds it, on an in-memory SQLite database (migrated like a real one)
 * unless the test gives DATABASE_URL, with the variables the test gives and a logger that records.
 */
export async function createTestApp(env: Env = {}): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.register(testConfig(env))],
  }).compile();
  const logs = new RecordingLogger();
  const app = moduleRef.createNestApplication<INestApplication<App>>(createHttpAdapter(), {
    ...APP_OPTIONS,
    logger: logs,
  });
  // Every answer the test receives is held to the OpenAPI document; close() reports any breach.
  const violations: string[] = [];
  ApiContract.of(setUpApp(app)).check(fastifyOf(app), (violation) => violations.push(violation));
  await app.init();
  // supertest serves app.getHttpServer() itself: Fastify must have loaded its routes by then.
  await fastifyOf(app).ready();
  return {
    app,
    server: app.getHttpServer(),
    logs,
    dataSource: app.get<DataSource>(getDataSourceToken()),
    close: async () => {
      await app.close();
      if (violations.length > 0) {
        throw new Error(`Answers that break the OpenAPI document:\n${violations.join('\n')}`);
      }
    },
  };
}
