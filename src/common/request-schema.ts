import { BadRequestException } from '@nestjs/common';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from 'typebox';

// ajv-formats is CommonJS: under ESM its plugin is the `default` of what the import gives.
const addFormats = (
  addFormatsModule as unknown as {
    default: (ajv: Ajv, formats?: string[]) => Ajv;
  }
).default;

/** An error body lists at most this many problems, then says how many more there were. */
export const MAX_LISTED_PROBLEMS = 10;

/**
 * What a field says when it is refused, in the words and order the API has always used (those of
 * class-validator, which validated requests until issue 24): `property` is the field's own name; a
 * nested field's messages are prefixed with its parent (`usage.prompt_tokens must …`). Only called
 * on the cold path, for a field Ajv refused.
 */
export type FieldMessages = (value: unknown, property: string) => string[];

/** Where a field schema keeps its messages: a symbol, invisible to Ajv and to the document. */
const MESSAGES = Symbol('field messages');
/** On an object schema: the order its fields are reported in, when it differs from its properties. */
const REPORT_ORDER = Symbol('report order');
/** On an object schema used as a field: the component name the document refers to it by. */
const COMPONENT = Symbol('component name');

type Tagged = Record<PropertyKey, unknown>;

/** `schema` with the messages it is refused with. */
export function withMessages<T extends TSchema>(schema: T, messages: FieldMessages): T {
  (schema as Tagged)[MESSAGES] = messages;
  return schema;
}

/** An object schema, named as a component of the OpenAPI document (`StepSuccessDto`). */
export function named<T extends TSchema>(name: string, schema: T, reportOrder?: string[]): T {
  (schema as Tagged)[COMPONENT] = name;
  if (reportOrder) (schema as Tagged)[REPORT_ORDER] = reportOrder;
  NAMED.push(schema);
  return schema;
}

/** `schema`, its refused fields reported in `order` rather than in the order of its properties. */
export function reportOrder<T extends TSchema>(schema: T, order: string[]): T {
  (schema as Tagged)[REPORT_ORDER] = order;
  return schema;
}

/**
 * Names `schema` as a component of the OpenAPI document without making it a request schema: a
 * response's shape (common/response-schema.ts), which a field of another schema refers to by $ref.
 */
export function nameComponent<T extends TSchema>(name: string, schema: T): T {
  (schema as Tagged)[COMPONENT] = name;
  return schema;
}

/** The component name of a named object schema, if it has one. */
export function componentName(schema: unknown): string | undefined {
  return (schema as Tagged | undefined)?.[COMPONENT] as string | undefined;
}

/**
 * The one Ajv of the request layer: nothing removed, coerced or defaulted — what is accepted is
 * exactly what is stored — and every problem reported, not just the first.
 */
export const ajv = new Ajv({
  removeAdditional: false,
  coerceTypes: false,
  useDefaults: false,
  allErrors: true,
  strict: true,
  strictRequired: false,
});
// Ajv reads OpenAPI's `nullable: true` beside `type` itself: the document and the check agree.
addFormats(ajv, ['int64']);
// OpenAPI's annotation, kept in the schema for the document; Ajv only needs to know it.
ajv.addVocabulary(['example']);

const MAX_INT64 = 9_223_372_036_854_775_807n;

export interface DataContext {
  parentData: Record<string | number, unknown>;
  parentDataProperty: string | number;
}

/**
 * `x-nanoseconds`: a count within 0 … 2^63-1, as a safe JSON integer or a decimal string (past 2^53
 * the body parser hands integers on as their text); a safe integer becomes its text in place, so
 * the count is stored as given. null passes (a nullable field).
 */
ajv.addKeyword({
  keyword: 'x-nanoseconds',
  schemaType: 'boolean',
  modifying: true,
  errors: false,
  validate: (_enabled: boolean, data: unknown, _schema: unknown, context?: DataContext) => {
    if (data === null) return true;
    if (typeof data === 'number') {
      if (!Number.isSafeInteger(data) || data < 0) return false;
      if (context) context.parentData[context.parentDataProperty] = String(data);
      return true;
    }
    return typeof data === 'string' && /^\d{1,19}$/.test(data) && BigInt(data) <= MAX_INT64;
  },
});

/** A compiled request schema: checks a value, and on failure says why in the API's words. */
export interface RequestSchema<T = unknown> {
  readonly schema: TSchema;
  /** The value itself when it validates (normalised in place, see `x-` keywords), else a 400. */
  check(value: unknown): T;
}

/** Compiles `schema` once, at start. */
export function compileRequest<T>(schema: TSchema): RequestSchema<T> {
  const validate: ValidateFunction = ajv.compile(schema);
  return {
    schema,
    check(value: unknown): T {
      if (validate(value)) return value as T;
      throw new BadRequestException(capped(describe(schema, value, validate.errors ?? [])));
    },
  };
}

function capped(messages: string[]): string[] {
  if (messages.length <= MAX_LISTED_PROBLEMS) return messages;
  const more = messages.length - MAX_LISTED_PROBLEMS;
  return [...messages.slice(0, MAX_LISTED_PROBLEMS), `… and ${more} more problems`];
}

interface ObjectSchema extends Tagged {
  properties?: Record<string, TSchema & Tagged>;
}

/** The refusals Ajv found under one object, grouped by the field they are about. */
interface Findings {
  /** Unknown keys, in the order the body gave them. */
  unknown: string[];
  /** Declared fields refused, or holding something refused. */
  fields: Map<string, ErrorObject[]>;
}

/** Splits an instancePath (`/usage/prompt_tokens`) into its keys. */
function keysOf(instancePath: string): string[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** What Ajv's errors say of the fields of the object at `path` (its keys from the root). */
function findings(errors: ErrorObject[], path: string[]): Findings {
  const found: Findings = { unknown: [], fields: new Map() };
  for (const error of errors) {
    const keys = keysOf(error.instancePath);
    if (!path.every((key, i) => keys[i] === key)) continue;
    if (keys.length === path.length) {
      if (error.keyword === 'additionalProperties') {
        found.unknown.push((error.params as { additionalProperty: string }).additionalProperty);
      } else if (error.keyword === 'required') {
        const missing = (error.params as { missingProperty: string }).missingProperty;
        found.fields.set(missing, [...(found.fields.get(missing) ?? []), error]);
      }
      continue;
    }
    const field = keys[path.length];
    found.fields.set(field, [...(found.fields.get(field) ?? []), error]);
  }
  return found;
}

/**
 * The messages for a value Ajv refused, in the order class-validator gave them: first the unknown
 * fields (in the body's order), then each declared field in its report order, a nested object's
 * fields prefixed with its name. A nested object given as an array is refused on its own first.
 */
function describe(schema: TSchema, value: unknown, errors: ErrorObject[]): string[] {
  const root = schema as ObjectSchema;
  for (const [name, field] of fieldsOf(root)) {
    const given = (value as Record<string, unknown>)?.[name];
    if (field[COMPONENT] && Array.isArray(given))
      return [`${name} must be an object, not an array`];
  }
  const messages = describeObject(root, value as Record<string, unknown>, errors, [], '');
  if (messages.length > 0) return messages;
  // An object key named after an Object.prototype member, in a nested object, was only ever
  // refused alone (class-transformer's copy lost it), as `property usage.valueOf should not exist`.
  const lost = lostPrototypeKey(root, value as Record<string, unknown>, errors);
  if (lost) return [`property ${lost} should not exist`];
  // Ajv refused something no field explains: say what Ajv says, at its path.
  return errors.map(
    (error) => `${keysOf(error.instancePath).join('.') || 'body'} ${error.message}`,
  );
}

function fieldsOf(schema: ObjectSchema): Array<[string, TSchema & Tagged]> {
  const properties = schema.properties ?? {};
  const order = (schema[REPORT_ORDER] as string[] | undefined) ?? Object.keys(properties);
  return order.map((name) => [name, properties[name]]);
}

function describeObject(
  schema: ObjectSchema,
  value: Record<string, unknown>,
  errors: ErrorObject[],
  path: string[],
  prefix: string,
): string[] {
  const found = findings(errors, path);
  const nested = path.length > 0;
  const messages = found.unknown
    .filter((key) => !(nested && isPrototypeName(key)))
    .map((key) => `${prefix}property ${key} should not exist`);
  for (const [name, field] of fieldsOf(schema)) {
    if (!found.fields.has(name)) continue;
    const given = value?.[name];
    if (field[COMPONENT]) {
      if (given === null || typeof given !== 'object') {
        const say = field[MESSAGES] as FieldMessages | undefined;
        messages.push(...(say ? say(given, name) : []).map((message) => `${prefix}${message}`));
        messages.push(`${prefix}nested property ${name} must be either object or array`);
      } else {
        const inner = describeObject(
          field,
          given as Record<string, unknown>,
          errors,
          [...path, name],
          `${prefix}${name}.`,
        );
        messages.push(...inner);
      }
      continue;
    }
    const say = field[MESSAGES] as FieldMessages | undefined;
    const said = say ? say(given, name) : [];
    if (said.length > 0) {
      messages.push(...said.map((message) => `${prefix}${message}`));
    } else {
      for (const error of found.fields.get(name)!) {
        messages.push(
          `${prefix}${[name, ...keysOf(error.instancePath).slice(path.length + 1)].join('.')} ${error.message}`,
        );
      }
    }
  }
  return messages;
}

function isPrototypeName(key: string): boolean {
  return Object.hasOwn(Object.prototype, key);
}

/** The first nested key named after an Object.prototype member, found as class-transformer lost it. */
function lostPrototypeKey(
  schema: ObjectSchema,
  value: Record<string, unknown>,
  errors: ErrorObject[],
): string | null {
  const unknown = errors.filter((error) => error.keyword === 'additionalProperties');
  for (const [name] of fieldsOf(schema).reverse()) {
    const key = unknown.find((error) => keysOf(error.instancePath).join('/') === name);
    if (key && value?.[name]) {
      return `${name}.${(key.params as { additionalProperty: string }).additionalProperty}`;
    }
  }
  return null;
}

/** The schemas named so far, each once, for the document's components. */
const NAMED: TSchema[] = [];

/** Every named request schema: the document's components for bodies. */
export function namedSchemas(): ReadonlyArray<TSchema> {
  return NAMED;
}

/** On a named object used as a field: what the document says beside its $ref (`description`). */
const FIELD_DOCS = Symbol('field documentation');

/**
 * A named object schema as a field with `docs` beside its $ref (`description`): documented as
 * `allOf: [$ref]` next to them, since OpenAPI 3.0 ignores a $ref's siblings.
 */
export function describedObject<T extends TSchema>(schema: T, docs: Record<string, unknown>): T {
  const field: Tagged = { ...(schema as Tagged) };
  field[FIELD_DOCS] = docs;
  return field as unknown as T;
}

/**
 * A named object schema as a field that may be null (`usage`): documented as a nullable $ref, with
 * `docs` beside it. `messages`, if given, are what the field says before `nested property … must
 * be either object or array` when it is no object.
 */
export function nullableObject<T extends TSchema>(
  schema: T,
  docs: Record<string, unknown> = {},
  messages?: FieldMessages,
): T {
  const field: Tagged = { ...(schema as Tagged), nullable: true };
  field[FIELD_DOCS] = docs;
  if (messages) field[MESSAGES] = messages;
  return field as unknown as T;
}

/**
 * `schema` as OpenAPI 3.0 states it: a `{type: 'null'}` branch becomes `nullable: true` (beside the
 * one other branch itself when there is just one: `T | null` is T, nullable), a named object used
 * as a field becomes a $ref, and the `x-` keywords that only Ajv reads are left out.
 */
export function toOpenApi(schema: unknown, top = true): Record<string, unknown> {
  const source = schema as Tagged & Record<string, unknown>;
  const name = componentName(source);
  if (name && !top) {
    const ref = { $ref: `#/components/schemas/${name}` };
    const docs = source[FIELD_DOCS] as Record<string, unknown> | undefined;
    if (source.nullable) return { ...docs, allOf: [ref], nullable: true };
    return docs ? { ...docs, allOf: [ref] } : ref;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key.startsWith('x-')) continue;
    if ((key === 'oneOf' || key === 'anyOf') && Array.isArray(value)) {
      const branches = value.filter((branch) => (branch as { type?: string }).type !== 'null');
      if (branches.length < value.length) out.nullable = true;
      if (branches.length === 1 && branches.length < value.length) {
        const only = toOpenApi(branches[0], false);
        if (only.$ref) out.allOf = [only];
        else Object.assign(out, only, { nullable: true });
      } else {
        out[key] = branches.map((branch) => toOpenApi(branch, false));
      }
    } else if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([property, definition]) => [
          property,
          toOpenApi(definition, false),
        ]),
      );
    } else if (key === 'items' && value && typeof value === 'object') {
      out.items = toOpenApi(value, false);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The component schemas of every named request schema, as the document lists them. */
export function requestComponents(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(NAMED.map((schema) => [componentName(schema)!, toOpenApi(schema)]));
}
