import { readFileSync } from 'node:fs';
import { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { refineApiDocument } from './common/api-docs.js';
import { requestComponents } from './common/request-schema.js';
import type { NextFunction, Request, Response } from 'express';
import { API_KEY_REFUSAL, bearerMatches, digest } from './auth/api-key.middleware.js';
import { ErrorResponseFilter } from './common/error-response.filter.js';
import { CheckedPathPipe } from './common/text-rules.js';
import { STEPHOOK_VERSION } from './common/version.js';
import { appConfig } from './config/app.config.js';
import type { AppConfig } from './config/app.config.js';

/** Nest's JSON parser is off: JsonBodyMiddleware reads bodies (size limit, exact big integers). */
export const APP_OPTIONS: NestApplicationOptions = { bodyParser: false };

/** Everything main.ts and the e2e tests both apply to the app, so tests run what ships. */
export function setUpApp(app: INestApplication): INestApplication {
  // Bodies and queries are validated by each route's own schema pipe (common/schema-pipe.ts).
  app.useGlobalPipes(new CheckedPathPipe());
  app.useGlobalFilters(new ErrorResponseFilter(app.get(HttpAdapterHost).httpAdapter));
  serveApiDocs(app);
  return app;
}

/**
 * OpenAPI at /docs (UI), /docs-json and /docs-yaml. Swagger mounts these straight on Express, ahead
 * of Nest's middleware, so with API_KEY set they get their own gate here (`apiDocsBehindKey`).
 */
function serveApiDocs(app: INestApplication): void {
  const { apiKey } = app.get<AppConfig>(appConfig.KEY);
  if (apiKey) app.use(['/docs', '/docs-json', '/docs-yaml'], apiDocsBehindKey(digest(apiKey)));
  const document = createApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
  });
}

/** The page (`dashboard/api-docs.*`) that asks for the key, then shows the document fetched with it. */
const KEY_PAGE_DIR = new URL('../dashboard/', import.meta.url);
const KEY_PAGE = new Set(['/docs', '/docs/', '/docs/index.html']);
const KEY_PAGE_SCRIPT = '/docs/stephook-docs.js';
/** Swagger UI's own files under /docs: library code and icons, nothing of this API's document. */
const SWAGGER_UI_FILES = new Set([
  '/docs/swagger-ui-bundle.js',
  '/docs/swagger-ui.css',
  '/docs/favicon-32x32.png',
  '/docs/favicon-16x16.png',
]);
/** The key page's own script and styles, and Swagger UI's (which sets styles on its elements). */
const KEY_PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * With API_KEY set: the document (/docs-json, /docs-yaml, and Swagger's /docs/swagger-ui-init.js,
 * which embeds it) needs the key; /docs opens without it on a page that holds nothing of the
 * document, asks for the key as the dashboard does, and fetches /docs-json with it.
 */
function apiDocsBehindKey(expected: Buffer) {
  let page: string | undefined;
  let script: string | undefined;
  return (request: Request, response: Response, next: NextFunction): void => {
    const path = request.baseUrl + request.path;
    if (request.method === 'GET' || request.method === 'HEAD') {
      if (KEY_PAGE.has(path)) {
        page ??= readFileSync(new URL('api-docs.html', KEY_PAGE_DIR), 'utf8');
        keyPageHeaders(response).type('html').send(page);
        return;
      }
      if (path === KEY_PAGE_SCRIPT) {
        script ??= readFileSync(new URL('api-docs.js', KEY_PAGE_DIR), 'utf8');
        keyPageHeaders(response).type('text/javascript').send(script);
        return;
      }
      if (SWAGGER_UI_FILES.has(path)) return next();
    }
    if (bearerMatches(request.headers.authorization, expected)) return next();
    response.status(401).json({ statusCode: 401, message: API_KEY_REFUSAL, error: 'Unauthorized' });
  };
}

function keyPageHeaders(response: Response): Response {
  return response
    .set('content-security-policy', KEY_PAGE_POLICY)
    .set('cache-control', 'no-cache')
    .set('referrer-policy', 'no-referrer')
    .set('x-content-type-options', 'nosniff');
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
  // The request schemas that validate bodies are the document's own components, as they are.
  const requests = requestComponents();
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...requests },
  };
  return refineApiDocument(document);
}
