import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { JsonBodyMiddleware } from './common/json-body.middleware.js';
import { configBlocks } from './config/index.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { StepsModule } from './steps/steps.module.js';
import { WebhookModule } from './webhook/webhook.module.js';

@Module({
  imports: [
    // main.ts reads .env and validates every block before Nest starts.
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: configBlocks }),
    EventEmitterModule.forRoot(),
    DatabaseModule,
    StepsModule,
    WebhookModule,
    HealthModule,
  ],
  providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(JsonBodyMiddleware).forRoutes('{*path}');
  }
}
