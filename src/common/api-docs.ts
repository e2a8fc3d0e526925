import { applyDecorators } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { ApiResponse } from '@nestjs/swagger';
import { Type } from 'typebox';
import { answerOf, namedView } from './response-schema.js';

/** Nest's error shape, as every 4xx of stephook has it (ErrorResponseFilter writes it). */
export const ErrorView = namedView(
  'ErrorView',
  Type.Object({
    statusCode: Type.Integer({ example: 400 }),
    message: Type.Unsafe<string | string[]>({
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      example: ['prompt_tokens must be an integer number'],
      description: 'What is wrong, naming the field.',
    }),
    error: Type.String({ example: 'Bad Request' }),
  }),
);

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400:
    'Bad input: the message names the field (a problem list past 10 ends "… and N more problems"). ' +
    'Includes a body that is not UTF-8, and a string holding NUL or a lone surrogate',
  401:
    'The Bearer key is missing, wrong or revoked (with API_KEY empty, only a wrong or revoked ' +
    'shk_ key is refused)',
  404: 'No such resource',
  409: 'Conflicts with the current state',
  413: 'Body over 1 MiB',
  415: 'Content-Type is not application/json, or names a charset other than utf-8',
  503: 'The database (or, for a retry, Redis) does not answer: try again after Retry-After seconds',
};

/** The header every 503 carries. */
const RETRY_AFTER = {
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    schema: { type: 'integer', minimum: 1 },
  },
};

/**
 * Documents the error answers a route can give, each in Nest's error shape: the route's own, plus
 * 401 (API_KEY) and 503 (a dependency does not answer), which every authenticated route can give.
 */
export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(
    ...[401, ...statuses, 503].map((status) =>
      ApiResponse({
        status,
        description: ERROR_DESCRIPTIONS[status],
        ...answerOf(ErrorView),
        ...(status === 503 ? { headers: RETRY_AFTER } : {}),
      }),
    ),
  );

/** Documents a JSON body route's transport errors on top of its own. */
export const ApiBodyErrors = (...statuses: number[]) => ApiErrors(400, 413, 415, ...statuses);

type Schema = Record<string, unknown> & {
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  nullable?: boolean;
};
type Content = Record<string, { schema: Schema }>;

/**
 * Rules that hold for every route, applied to the generated document so it states them exactly:
 * - request bodies are stated by the schemas that validate them (common/request-schema.ts), unknown
 *   fields and null included, so nothing here adds to their rules;
 * - a nullable enum lists null among its values, so the step it describes validates against it;
 * - a nullable $ref or a nullable oneOf offers null as a branch of its own;
 * - errors are JSON even on a route whose success is text (/metrics);
 * - every route can answer 400: NUL or a lone surrogate in a query value or path parameter, or a
 *   query parameter named after an Object.prototype member, is refused everywhere;
 * - a route without the Bearer requirement says so (`security: []`), and the shared key is no JWT.
 */
export function refineApiDocument(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path as Record<string, Record<string, unknown>>)) {
      const responses = (operation.responses ?? {}) as Record<string, { content?: Content }>;
      for (const response of Object.values(responses)) {
        const text = response.content?.['text/plain'];
        if (text?.schema.$ref?.endsWith('/ErrorView'))
          response.content = { 'application/json': text };
      }
      operation.security ??= [];
      // NUL or a lone surrogate in any query value or path parameter is a 400 on every route (SPEC §9).
      responses['400'] ??= {
        description:
          'A query value or path parameter holds NUL or a lone surrogate, or a query parameter is ' +
          'named after an Object.prototype member (__proto__, constructor, toString, …): the ' +
          'message names it',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorView' } } },
      } as { content?: Content };
      operation.responses = responses;
    }
  }
  for (const schema of Object.values(schemas)) {
    for (const [property, definition] of Object.entries(schema.properties ?? {})) {
      if (definition.nullable && definition.enum && !definition.enum.includes(null)) {
        definition.enum = [...definition.enum, null];
      }
      if (definition.nullable && (definition.type === undefined || definition.allOf)) {
        schema.properties![property] = nullAsBranch(definition);
      }
    }
  }
  for (const scheme of Object.values(document.components?.securitySchemes ?? {})) {
    delete (scheme as { bearerFormat?: string }).bearerFormat;
  }
  return document;
}

/** The value null, alone: the branch that makes a typeless schema nullable. */
const NULL_ONLY: Schema = { type: 'string', nullable: true, enum: [null] };

/**
 * OpenAPI 3.0 reads `nullable` only beside `type` (3.0.3), and beside `allOf: [$ref]` the referenced
 * schema still refuses null, so a validator would refuse the null the server accepts: a nullable
 * schema without a type, or around a $ref, becomes a oneOf that has null as a branch of its own.
 */
function nullAsBranch(definition: Schema): Schema {
  const { nullable: _nullable, type: _type, allOf, oneOf, ...rest } = definition;
  if (allOf?.length === 1 && !oneOf) return { ...rest, oneOf: [allOf[0], NULL_ONLY] };
  if (oneOf && !allOf) return { ...rest, oneOf: [...oneOf, NULL_ONLY] };
  return definition;
}
