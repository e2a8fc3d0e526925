import { Type } from 'typebox';
import type { TSchema, TUnsafe } from 'typebox';
import { MAX_JSON_DEPTH, MAX_KEYS_PER_OBJECT } from '../../common/json-body.js';
import { withMessages } from '../../common/request-schema.js';
import type { FieldMessages } from '../../common/request-schema.js';

// Each helper here is one field's JSON Schema, which both validates it (Ajv) and documents it
// (OpenAPI), plus the words it is refused with, so the three cannot drift.

/** The largest value of a 32-bit integer column, on every database stephook runs on. */
export const MAX_INT32 = 2_147_483_647;
export const MAX_INT64 = 9_223_372_036_854_775_807n;

/** A field's schema with its TypeScript type, as plain JSON Schema. */
export function field<T>(schema: Record<string, unknown>, messages: FieldMessages): TUnsafe<T> {
  return withMessages(Type.Unsafe<T>(schema as TSchema), messages);
}

/** Leaves out the keys whose value is undefined (an `example` not given). */
export function defined(schema: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema).filter(([, value]) => value !== undefined));
}

/** Characters as MaxLength and Ajv's maxLength count them: code points. */
export function lengthOf(text: string): number {
  let length = 0;
  for (const _ of text) length += 1;
  return length;
}

const listed = (messages: Array<string | false>) =>
  messages.filter((message): message is string => message !== false);

/** `must be a string` and/or `must be shorter than …`, in the order the field always said them. */
export function textMessages(maxLength: number, lengthFirst = false): FieldMessages {
  return (value, property) => {
    const notText = typeof value !== 'string' && `${property} must be a string`;
    const tooLong =
      !(typeof value === 'string' && lengthOf(value) <= maxLength) &&
      `${property} must be shorter than or equal to ${maxLength} characters`;
    return listed(lengthFirst ? [tooLong, notText] : [notText, tooLong]);
  };
}

/** One of `values`, in the words of the old IsIn. */
export function oneOfMessages(values: readonly unknown[]): FieldMessages {
  return (_value, property) => [
    `${property} must be one of the following values: ${values.join(', ')}`,
  ];
}

/** An optional text; null = left out. */
export const OptionalText = (maxLength = 512, example?: string) =>
  field<string | null>(
    defined({ type: 'string', maxLength, example, nullable: true }),
    textMessages(maxLength),
  );

/** An optional non-negative 32-bit count; null = left out. */
export const OptionalCount = <T = number | null>(example?: number) =>
  field<T>(
    defined({
      type: 'integer',
      minimum: 0,
      maximum: MAX_INT32,
      example,
      nullable: true,
    }),
    (value, property) =>
      listed([
        !(typeof value === 'number' && Number.isInteger(value)) &&
          `${property} must be an integer number`,
        !(typeof value === 'number' && value >= 0) && `${property} must not be less than 0`,
        !(typeof value === 'number' && value <= MAX_INT32) &&
          `${property} must not be greater than ${MAX_INT32}`,
      ]),
  );

/** What every free-form object's OpenAPI description says of its keys. */
const FREE_FORM_KEYS =
  'Stored and returned exactly as sent. Any keys (toString, valueOf and the like included) but ' +
  `__proto__, constructor and prototype, refused in every body; at most ${MAX_KEYS_PER_OBJECT} ` +
  `keys in any one object, nested at most ${MAX_JSON_DEPTH} levels.`;

/**
 * A free-form object, kept exactly as the body parser gave it (which refuses `__proto__`,
 * `constructor` and `prototype` keys, NUL and lone surrogates, at any depth); null = left out.
 */
export const OptionalObject = (description?: string) =>
  field<Record<string, unknown> | null>(
    {
      type: 'object',
      additionalProperties: true,
      nullable: true,
      description: description ? `${description} ${FREE_FORM_KEYS}` : FREE_FORM_KEYS,
    },
    (_value, property) => [`${property} must be an object`],
  );

/** A list of tags, each up to 256 characters, at most 100. */
export const OptionalTags = (
  description = 'Tags (at most 100, each up to 256 characters).',
  nullable = true,
) =>
  field<string[] | null>(
    {
      type: 'array',
      items: { type: 'string', maxLength: 256 },
      maxItems: 100,
      description,
      example: ['billing'],
      ...(nullable ? { nullable: true } : {}),
    },
    tagMessages,
  );

/** IsArray, ArrayMaxSize(100), IsString({each}), MaxLength(256, {each}), as they spoke. */
const tagMessages: FieldMessages = (value, property) => {
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  return listed([
    !Array.isArray(value) && `${property} must be an array`,
    !(Array.isArray(value) && value.length <= 100) &&
      `${property} must contain no more than 100 elements`,
    items.some((item) => typeof item !== 'string') && `each value in ${property} must be a string`,
    items.some((item) => !(typeof item === 'string' && lengthOf(item) <= 256)) &&
      `each value in ${property} must be shorter than or equal to 256 characters`,
  ]);
};

/** A decimal count within 0 … 2^63-1 (text, so that no digit is lost). */
export function isNanosecondText(value: unknown): value is string {
  return typeof value === 'string' && /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_INT64;
}

/**
 * A 64-bit nanosecond count, given as a JSON integer or a decimal string, kept as its exact decimal
 * text: the `x-nanoseconds` keyword turns a safe integer into its text in place. (Integers beyond
 * 2^53 reach here as strings: the body parser never rounds them.) null = left out.
 */
export const NanosecondCount = () =>
  field<string | null>(
    {
      oneOf: [
        { type: 'integer', format: 'int64', minimum: 0 },
        { type: 'string', pattern: '^\\d{1,19}$', maxLength: 19 },
        { type: 'null' },
      ],
      'x-nanoseconds': true,
      description:
        'Nanoseconds, 0 to 2^63-1 (9223372036854775807); returned as a decimal string. Send a ' +
        'decimal string: a JSON number past 2^53 is exact here but is rounded by most clients ' +
        '(a JavaScript client’s number type among them). A 19-digit string above 2^63-1 is refused.',
      example: '1764316800123456789',
    },
    (_value, property) => [
      `${property} must be a non-negative 64-bit integer (a JSON integer or a decimal string)`,
    ],
  );
