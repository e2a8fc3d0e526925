import { Type } from 'typebox';
import type { TSchema, TUnsafe } from 'typebox';
import { componentName, nameComponent, toOpenApi } from './request-schema.js';

// An answer's shape is one TypeBox schema: the presenter that builds the answer returns its
// `Static` type, and the OpenAPI document lists it as a component (responseComponents), so the
// JSON, its TypeScript type and its documentation cannot drift apart. Written as JSON Schema;
// toOpenApi states it in OpenAPI 3.0's words (`T | null` becomes `nullable: true`).

/** The response schemas named so far, each once, for the document's components. */
const VIEWS: TSchema[] = [];

/** An answer's schema, named as a component of the OpenAPI document (`StepView`). */
export function namedView<T extends TSchema>(name: string, schema: T): T {
  VIEWS.push(nameComponent(name, schema));
  return schema;
}

/** The component schemas of every named response schema, as the document lists them. */
export function responseComponents(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(VIEWS.map((schema) => [componentName(schema)!, toOpenApi(schema)]));
}

/** `schema` or null. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A text that is one of `values`. */
export const StringEnum = <T extends string>(
  values: readonly T[],
  options: Record<string, unknown> = {},
): TUnsafe<T> => Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });

/** An ISO-8601 UTC timestamp, as every time in the API is written. */
export const DateTime = (options: Record<string, unknown> = {}) =>
  Type.String({ format: 'date-time', ...options });

/** A free-form object, returned exactly as it was stored. */
export const FreeFormObject = () =>
  Type.Unsafe<object>({ type: 'object', additionalProperties: true });

/** What `@ApiOkResponse(…)` and its kin say of an answer that is one `view`. */
export const answerOf = (view: TSchema) => ({ schema: refTo(view) });

/** What `@ApiOkResponse(…)` says of an answer that is a list of `view`. */
export const listOf = (view: TSchema) => ({ schema: { type: 'array', items: refTo(view) } });

function refTo(view: TSchema): { $ref: string } {
  const name = componentName(view);
  if (!name) throw new Error('An answer is documented by a named view (namedView)');
  return { $ref: `#/components/schemas/${name}` };
}
