import { applyDecorators, PipeTransform } from '@nestjs/common';
import { ApiBody, ApiQuery } from '@nestjs/swagger';
import type { TSchema } from 'typebox';
import { compileRequest, componentName, toOpenApi } from './request-schema.js';
import type { RequestSchema } from './request-schema.js';

/**
 * Validates a request body against its schema (compiled once, when the controller is loaded): the
 * body itself goes on, nothing copied; a refused body is a 400 naming every field, as SPEC says.
 * An empty body is `{}` (`curl -X POST …/cancel`).
 */
export class BodyPipe<T> implements PipeTransform<unknown, T> {
  private readonly request: RequestSchema<T>;

  constructor(schema: TSchema) {
    this.request = compileRequest<T>(schema);
  }

  transform(value: unknown): T {
    return this.request.check(value ?? {});
  }
}

type QueryKind = 'integer' | 'boolean' | 'array' | 'text';

/**
 * Validates a query string against its schema. A query value is text (or a list of texts, for a
 * repeated parameter), so each field is read first as its schema says — an integer from plain
 * digits only, a boolean from `true` / `false` only, a repeatable parameter always as a list —
 * and anything else is left as given for the schema to refuse, naming the field. No coercion in Ajv.
 */
export class QueryPipe<T> implements PipeTransform<unknown, T> {
  private readonly request: RequestSchema<T>;
  private readonly kinds: Array<[string, QueryKind]>;

  constructor(schema: TSchema) {
    this.request = compileRequest<T>(schema);
    const properties = (schema as { properties?: Record<string, { type?: string }> }).properties;
    this.kinds = Object.entries(properties ?? {}).map(([name, field]) => [
      name,
      kindOf(field.type),
    ]);
  }

  transform(value: unknown): T {
    const query: Record<string, unknown> = { ...(value as Record<string, unknown> | undefined) };
    for (const [name, kind] of this.kinds) {
      const given = query[name];
      if (given === undefined) continue;
      query[name] = readQueryValue(given, kind);
    }
    return this.request.check(query);
  }
}

function kindOf(type: string | undefined): QueryKind {
  if (type === 'integer' || type === 'boolean' || type === 'array') return type;
  return 'text';
}

function readQueryValue(given: unknown, kind: QueryKind): unknown {
  switch (kind) {
    case 'integer':
      return typeof given === 'string' && /^\d+$/.test(given) ? Number(given) : given;
    case 'boolean':
      return given === 'true' ? true : given === 'false' ? false : given;
    case 'array':
      return Array.isArray(given) ? given : [given];
    default:
      return given;
  }
}

/** Documents a JSON body by its named schema (a component of the document). */
export const ApiJsonBody = (schema: TSchema, required = true) =>
  ApiBody({ required, schema: { $ref: `#/components/schemas/${componentName(schema)}` } });

/** Documents each field of a query schema as an optional query parameter. */
export const ApiQueryOf = (schema: TSchema) => {
  const properties = (schema as { properties?: Record<string, unknown> }).properties ?? {};
  return applyDecorators(
    ...Object.entries(properties).map(([name, field]) => {
      const { description, nullable: _nullable, ...rest } = toOpenApi(field, false);
      return ApiQuery({
        name,
        required: false,
        ...(description === undefined ? {} : { description: description as string }),
        schema: rest,
      });
    }),
  );
};
