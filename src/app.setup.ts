import { INestApplication, NestApplicationOptions, ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { refineApiDocument } from './common/api-docs.js';
import type { NextFunction, Request, Response } from 'express';
import { API_KEY_REFUSAL, bearerMatches, digest } from './auth/api-key.middleware.js';
import { ErrorResponseFilter } from './common/error-response.filter.js';
import { NoNulPathPipe } from './common/nul-characters.js';
import { STEPHOOK_VERSION } from './common/version.js';
import { appConfig } from './config/app.config.js';
import type { AppConfig } from './config/app.config.js';

/** Nest's JSON parser is off: JsonBodyMiddleware reads bodies (size limit, exact big integers). */
export const APP_OPTIONS: NestApplicationOptions = { bodyParser: false };

/** Everything main.ts and the e2e tests both apply to the app, so tests run what ships. */
export function setUpApp(app: INestApplication): INestApplication {
  app.useGlobalPipes(
    new NoNulPathPipe(),
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
    }),
  );
  app.useGlobalFilters(new ErrorResponseFilter(app.get(HttpAdapterHost).httpAdapter));
  serveApiDocs(app);
  return app;
}

/**
 * OpenAPI at /docs (UI) and /docs-json. Swagger mounts these straight on Express, ahead of Nest's
 * middleware, so they get their own API_KEY check here.
 */
function serveApiDocs(app: INestApplication): void {
  const { apiKey } = app.get<AppConfig>(appConfig.KEY);
  if (apiKey) {
    const expected = digest(apiKey);
    app.use(['/docs', '/docs-json'], (request: Request, response: Response, next: NextFunction) => {
      if (bearerMatches(request.headers.authorization, expected)) return next();
      response
        .status(401)
        .json({ statusCode: 401, message: API_KEY_REFUSAL, error: 'Unauthorized' });
    });
  }
  const document = createApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

/** The OpenAPI document of every route; a contract test holds the server's answers to it. */
export function createApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('stephook')
      .setDescription(
        'Records the steps of AI agents and notifies an external system, by webhook, the moment a step ' +
          'succeeds, fails or is cancelled. With API_KEY set, every route but /health and /ready needs ' +
          '`Authorization: Bearer <API_KEY>`.',
      )
      .setVersion(STEPHOOK_VERSION)
      .setLicense('MIT', 'https://opensource.org/license/mit')
      .addServer('/', 'The stephook server that serves this document')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        description: 'The API_KEY, compared exactly',
      })
      .build(),
    // Operation ids are the controller methods' names, chosen as a client calls them (listSteps).
    { operationIdFactory: (_controller: string, method: string) => method },
  );
  return refineApiDocument(document);
}
