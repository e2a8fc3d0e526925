import { INestApplication, NestApplicationOptions, ValidationPipe } from '@nestjs/common';
import { DomainErrorFilter } from './common/domain-error.filter.js';

/** Nest's JSON parser is off: JsonBodyMiddleware reads bodies (size limit, exact big integers). */
export const APP_OPTIONS: NestApplicationOptions = { bodyParser: false };

/** Everything main.ts and the e2e tests both apply to the app, so tests run what ships. */
export function setUpApp(app: INestApplication): INestApplication {
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
    }),
  );
  app.useGlobalFilters(new DomainErrorFilter());
  return app;
}
