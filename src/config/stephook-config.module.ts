import { DynamicModule, Module, Provider } from '@nestjs/common';
import type { StephookConfig } from './stephook-config.js';

/** Each block of the configuration, injected as `@Inject(WEBHOOK_CONFIG) config: WebhookConfig`. */
export const APP_CONFIG = Symbol('AppConfig');
export const DATABASE_CONFIG = Symbol('DatabaseConfig');
export const WEBHOOK_CONFIG = Symbol('WebhookConfig');
export const DELIVERY_CONFIG = Symbol('DeliveryConfig');
export const RETENTION_CONFIG = Symbol('RetentionConfig');
export const TRACING_CONFIG = Symbol('TracingConfig');

/**
 * The configuration read once at start (loadValidConfig; tests give their own), offered to every
 * module: the entry files build it, nothing inside Nest reads the environment.
 */
@Module({})
export class StephookConfigModule {
  static forRoot(config: StephookConfig): DynamicModule {
    const providers: Provider[] = [
      { provide: APP_CONFIG, useValue: config.app },
      { provide: DATABASE_CONFIG, useValue: config.database },
      { provide: WEBHOOK_CONFIG, useValue: config.webhook },
      { provide: DELIVERY_CONFIG, useValue: config.delivery },
      { provide: RETENTION_CONFIG, useValue: config.retention },
      { provide: TRACING_CONFIG, useValue: config.tracing },
    ];
    return { module: StephookConfigModule, global: true, providers, exports: providers };
  }
}
