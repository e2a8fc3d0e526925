import { DynamicModule, Module, Provider } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
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
 * module through `@nestjs/config`'s ConfigService, which holds it and nothing else: it reads no
 * `.env` and no `process.env` of its own. Each block is a typed view of it, so a class asks for the
 * block it needs (the webhook URL and key: WEBHOOK_CONFIG) rather than for strings by name.
 */
@Module({})
export class StephookConfigModule {
  static forRoot(config: StephookConfig): DynamicModule {
    const providers: Provider[] = [
      block(APP_CONFIG, 'app'),
      block(DATABASE_CONFIG, 'database'),
      block(WEBHOOK_CONFIG, 'webhook'),
      block(DELIVERY_CONFIG, 'delivery'),
      block(RETENTION_CONFIG, 'retention'),
      block(TRACING_CONFIG, 'tracing'),
    ];
    return {
      module: StephookConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          validatePredefined: false,
          skipProcessEnv: true,
          load: [() => ({ ...config })],
        }),
      ],
      providers,
      exports: [ConfigModule, ...providers],
    };
  }
}

function block<Name extends keyof StephookConfig>(token: symbol, name: Name): Provider {
  return {
    provide: token,
    useFactory: (service: ConfigService) => service.getOrThrow<StephookConfig[Name]>(name),
    inject: [ConfigService],
  };
}
