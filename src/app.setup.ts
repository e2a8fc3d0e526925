import { readFileSync } from 'node:fs';
import { BadRequestException, INestApplication, NestApplicationOptions } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { refineApiDocument } from './common/api-docs.js';
import { requestComponents } from './common/request-schema.js';
import { responseComponents } from './common/response-schema.js';
import { scopedApiDocument } from './auth/access.js';
import {
  API_KEY_REFUSAL,
  authenticateRequests,
  Authenticator,
  pathOf,
} from './auth/api-key.hook.js';
import { KeyRing } from './auth/key-ring.js';
import { ErrorResponseFilter } from './common/error-response.filter.js';
import { MAX_BODY_BYTES, parseJsonBodies } from './common/json-body.hooks.js';
import { logRequests } from './common/request-log.hook.js';
import { CheckedPathPipe } from './common/text-rules.js';
import { STEPHOOK_VERSION } from './common/version.js';
import type { AppConfig } from './config/app.config.js';
import { traceRequests } from './tracing/http-tracing.hook.js';
import { answerClientError } from './http-server-limits.js';
import { APP_CONFIG } from './config/stephook-config.module.js';

/**
 * Nest's JSON parser is off: parseJsonBodies reads bodies (size limit, exact big integers). A
 * failed start is thrown rather than ended by Nest, so bootstrap() can stop with one line.
 */
export const APP_OPTIONS: NestApplicationOptions = { bodyParser: false, abortOnError: false };

/**
 * The HTTP layer of the API and of a worker's operator listener: Fastify, routing as the API always
 * has (SPEC lists `/v1/steps/` beside `/v1/steps`): paths match whatever their case and with or
 * without a trailing slash, and a path parameter has no length limit of its own (Node's header size
 * bounds the URL), so a long id is a 400 naming it rather than a 414. No Nest middleware: what
 * runs around the routes is Fastify hooks (setUpApp), so @fastify/middie and its per-request hook
 * are left out (`skipMiddie`; a `consumer.apply(…)` would not run).
 */
export function createHttpAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    skipMiddie: true,
    bodyLimit: MAX_BODY_BYTES,
    clientErrorHandler: answerClientError,
    // Errors Fastify's router answers before any hook or Nest's exception layer.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (error.code !== 'FST_ERR_BAD_URL') return void reply.send(error);
      const refusal = undecodableParam(request.url);
      void reply.code(refusal.getStatus()).send(refusal.getResponse());
    },
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 1 << 20 },
  });
}

/**
 * A path whose percent-escapes do not decode, in Nest's error shape, naming the first segment that
 * does not decode as Express's router did ("Failed to decode param '%zz'").
 */
function undecodableParam(url: string): BadRequestException {
  const segment = pathOf(url)
    .split('/')
    .find((part) => !decodes(part));
  return new BadRequestException(`Failed to decode param '${segment ?? pathOf(url)}'`);
}

function decodes(part: string): boolean {
  try {
    decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}

/** The Fastify instance under a Nest application made with createHttpAdapter(). */
export function fastifyOf(app: INestApplication): FastifyInstance {
  return (app as NestFastifyApplication).getHttpAdapter().getInstance();
}

/**
 * Everything main.ts and the e2e tests both apply to the app, so tests run what ships. Call before
 * `init()`/`listen()`: the hooks must be in place before Fastify is ready.
 */
export function setUpApp(app: INestApplication): INestApplication {
  // Bodies and queries are validated by each route's own schema pipe (common/schema-pipe.ts).
  app.useGlobalPipes(new CheckedPathPipe());
  app.useGlobalFilters(new ErrorResponseFilter(app.get(HttpAdapterHost).httpAdapter));
  const fastify = fastifyOf(app);
  const { apiKey } = app.get<AppConfig>(APP_CONFIG);
  // First, so a refused key or a bad body is traced too (hooked in only while tracing is on).
  traceRequests(fastify);
  logRequests(fastify, apiKey);
  const authenticator = new Authenticator(apiKey, app.get(KeyRing));
  authenticateRequests(fastify, authenticator, needsApiKey);
  if (apiKey) apiDocsBehindKey(fastify, authenticator);
  parseJsonBodies(fastify);
  serveApiDocs(app);
  return app;
}

/**
 * What needs a key here (API_KEY or a key made through /v1/api-keys; see Authenticator for the
 * rule while API_KEY is empty): every request but the probes (so orchestrators need no key) and
 * the dashboard page and its files (so it can ask for the key); the API documents have their own
 * gate (`apiDocsBehindKey`). Paths match as routes do: any case, a trailing slash.
 */
function needsApiKey(request: FastifyRequest, path: string): boolean {
  if (API_DOCS.test(path)) return false;
  if (request.method !== 'GET' && request.method !== 'HEAD') return true;
  const route = routePath(path);
  return !(OPEN_ROUTES.has(route) || route.startsWith('/dashboard/'));
}

const OPEN_ROUTES = new Set(['/health', '/ready', '/dashboard']);
/** /docs, /docs-json, /docs-yaml and what lies under them. */
const API_DOCS = /^\/docs(?:-json|-yaml)?(?:\/|$)/i;

function routePath(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/**
 * OpenAPI at /docs (UI), /docs-json and /docs-yaml. Swagger sets `text/html` and
 * `application/javascript` without a charset on Fastify; the pages keep the `charset=utf-8` they
 * always had (an onSend hook on those routes only).
 */
function serveApiDocs(app: INestApplication): void {
  fastifyOf(app).addHook('onRoute', (route) => {
    if (!route.url?.startsWith('/docs')) return;
    const own = route.onSend ?? [];
    route.onSend = [...(Array.isArray(own) ? own : [own]), withUtf8Charset];
  });
  const document = createApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
  });
}

function withUtf8Charset(
  _request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: null, payload: unknown) => void,
): void {
  const type = reply.getHeader('content-type');
  if (
    typeof type === 'string' &&
    !type.includes('charset') &&
    /^(text\/|application\/(javascript|json))/.test(type)
  ) {
    void reply.header('content-type', `${type}; charset=utf-8`);
  }
  done(null, payload);
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
 * which embeds it) needs API_KEY or any valid key, whatever its scopes; /docs opens without it on a page that holds nothing of the
 * document, asks for the key as the dashboard does, and fetches /docs-json with it. Answered from
 * an onRequest hook, ahead of Swagger's own /docs page.
 */
function apiDocsBehindKey(fastify: FastifyInstance, authenticator: Authenticator): void {
  let page: string | undefined;
  let script: string | undefined;
  fastify.addHook('onRequest', (request, reply, done) => {
    const path = pathOf(request.url);
    if (!API_DOCS.test(path)) return done();
    if (request.method === 'GET' || request.method === 'HEAD') {
      if (KEY_PAGE.has(path)) {
        page ??= readFileSync(new URL('api-docs.html', KEY_PAGE_DIR), 'utf8');
        void keyPageHeaders(reply).type('text/html; charset=utf-8').send(page);
        return;
      }
      if (path === KEY_PAGE_SCRIPT) {
        script ??= readFileSync(new URL('api-docs.js', KEY_PAGE_DIR), 'utf8');
        void keyPageHeaders(reply).type('text/javascript; charset=utf-8').send(script);
        return;
      }
      if (SWAGGER_UI_FILES.has(path)) return done();
    }
    if (authenticator.principalOf(request.headers.authorization)) return done();
    void reply.code(401).send({ statusCode: 401, message: API_KEY_REFUSAL, error: 'Unauthorized' });
  });
}

function keyPageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', KEY_PAGE_POLICY)
    .header('cache-control', 'no-cache')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff');
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
          '`Authorization: Bearer <key>`: API_KEY (every scope), or a key made through /v1/api-keys ' +
          '(`shk_…`), which may call the operations whose scope it holds (each operation states its ' +
          'own).',
      )
      .setVersion(STEPHOOK_VERSION)
      .setLicense('MIT', 'https://opensource.org/license/mit')
      .addServer('/', 'The stephook server that serves this document')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        description: 'API_KEY (every scope), or a key made through /v1/api-keys (shk_…)',
      })
      .build(),
    // Operation ids are the controller methods' names, chosen as a client calls them (listSteps).
    { operationIdFactory: (_controller: string, method: string) => method },
  );
  // The schemas that validate bodies and the schemas that type answers (their presenters return
  // them) are the document's own components, as they are.
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...responseComponents(), ...requestComponents() },
  };
  return scopedApiDocument(refineApiDocument(document));
}
