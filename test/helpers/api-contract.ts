import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Ajv, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiDocument } from '../../src/app.setup.js';

// ajv-formats is CommonJS: under ESM its plugin is the `default` of what the import gives.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}

/**
 * The OpenAPI document as a contract the server's answers are held to: every response an e2e test
 * receives on a documented route must have a documented status, and a JSON body that validates
 * against the document's schema for that route and status. Built once per test file.
 */
export class ApiContract {
  private readonly routes: Route[];
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();

  private constructor(readonly document: OpenAPIObject) {
    addFormats(this.ajv);
    this.ajv.addSchema({ components: document.components }, 'openapi');
    this.routes = Object.entries(document.paths).flatMap(([template, operations]) =>
      Object.entries(operations as Record<string, { responses: Route['responses'] }>).map(
        ([method, operation]) => ({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
          responses: operation.responses,
        }),
      ),
    );
  }

  private static shared: ApiContract | null = null;

  static of(app: INestApplication): ApiContract {
    ApiContract.shared ??= new ApiContract(createApiDocument(app));
    return ApiContract.shared;
  }

  /** What is wrong with this answer, or null when it keeps the contract (or the route is undocumented). */
  violation(
    method: string,
    path: string,
    status: number,
    contentType: string,
    body: string,
  ): string | null {
    const route = this.routes.find(
      (candidate) => candidate.method === method && candidate.pattern.test(path),
    );
    if (!route) return null;
    const where = `${method} ${path} → ${status}`;
    const documented = route.responses[String(status)];
    if (!documented) return `${where}: status not documented for ${method} ${route.template}`;
    const json = documented.content?.['application/json'];
    if (!json?.schema) {
      return contentType.startsWith('application/json') &&
        documented.content &&
        !documented.content['application/json']
        ? `${where}: answered JSON where the document says ${Object.keys(documented.content).join(', ')}`
        : null;
    }
    if (!contentType.startsWith('application/json'))
      return `${where}: answered ${contentType || 'no content type'}, documented JSON`;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return `${where}: body is not JSON`;
    }
    const validate = this.validator(`${method} ${route.template} ${status}`, json.schema);
    if (validate(value)) return null;
    return `${where}: ${this.ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`;
  }

  /**
   * What the document says about `body` as the request body of `method template` (JSON), as a
   * validating proxy would judge it: null when it accepts it, else why not.
   */
  requestViolation(method: string, template: string, body: unknown): string | null {
    const operation = (this.document.paths[template] as Record<string, unknown> | undefined)?.[
      method.toLowerCase()
    ] as { requestBody?: { content: Record<string, { schema: object }> } } | undefined;
    const schema = operation?.requestBody?.content['application/json']?.schema;
    if (!schema) return `${method} ${template} has no JSON request body`;
    return this.schemaViolation(`request ${method} ${template}`, schema, body);
  }

  /** Why `value` does not validate against `schema` (refs into the document), or null. */
  schemaViolation(key: string, schema: object, value: unknown): string | null {
    const validate = this.validator(key, schema);
    return validate(value) ? null : this.ajv.errorsText(validate.errors);
  }

  /** Checks every answer `fastify` sends (an onSend hook) and hands each violation to `report`. */
  check(fastify: FastifyInstance, report: (violation: string) => void): void {
    fastify.addHook('onSend', (request, reply, payload, done) => {
      const body =
        typeof payload === 'string'
          ? payload
          : Buffer.isBuffer(payload)
            ? payload.toString('utf8')
            : '';
      const query = request.url.indexOf('?');
      const violation = this.violation(
        request.method,
        query === -1 ? request.url : request.url.slice(0, query),
        reply.statusCode,
        String(reply.getHeader('content-type') ?? ''),
        body,
      );
      if (violation) report(violation);
      done(null, payload);
    });
  }

  private validator(key: string, schema: object): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile({ ...rewriteRefs(schema) });
      this.validators.set(key, validate);
    }
    return validate;
  }
}

/** `#/components/…` refs point into the document registered as `openapi`. */
function rewriteRefs(schema: object): object {
  return JSON.parse(
    JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"openapi#/components/'),
  ) as object;
}

export interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}

const REDOCLY = join(process.cwd(), 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

/**
 * What `redocly lint` (its recommended rules, offline, as a fresh checkout runs it) reports about
 * `document`. Redocly exits 1 when it finds an error; its JSON report is read either way.
 */
export async function redoclyLint(document: object): Promise<LintProblem[]> {
  const folder = await mkdtemp(join(tmpdir(), 'stephook-lint-'));
  const file = join(folder, 'openapi.json');
  try {
    await writeFile(file, JSON.stringify(document));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [REDOCLY, 'lint', file, '--format=json'],
        {
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          maxBuffer: 64 * 1024 * 1024,
        },
        (error, out) =>
          out ? resolve(out) : reject(error ?? new Error('redocly printed nothing')),
      );
    });
    return (JSON.parse(stdout) as { problems: LintProblem[] }).problems;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
