import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Ajv, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { NextFunction, Request, Response } from 'express';
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

  /** Express middleware that checks every answer and hands each violation to `report`. */
  middleware(report: (violation: string) => void) {
    return (request: Request, response: Response, next: NextFunction): void => {
      const send = response.send.bind(response);
      let body = '';
      response.send = (chunk?: unknown) => {
        if (typeof chunk === 'string') body = chunk;
        else if (Buffer.isBuffer(chunk)) body = chunk.toString('utf8');
        return send(chunk);
      };
      response.once('finish', () => {
        const violation = this.violation(
          request.method,
          request.path,
          response.statusCode,
          String(response.getHeader('content-type') ?? ''),
          body,
        );
        if (violation) report(violation);
      });
      next();
    };
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
