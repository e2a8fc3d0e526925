import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { AsGiven } from '../../common/as-given.js';
import { MAX_JSON_DEPTH, MAX_KEYS_PER_OBJECT } from '../../common/json-body.js';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';

// Each decorator here both validates a field and documents it in OpenAPI, so the two cannot drift.

/** The largest value of a 32-bit integer column, on every database stephook runs on. */
export const MAX_INT32 = 2_147_483_647;
export const MAX_INT64 = 9_223_372_036_854_775_807n;

export const OptionalText = (maxLength = 512, example?: string) =>
  applyDecorators(
    ApiPropertyOptional({ type: String, maxLength, example }),
    IsOptional(),
    IsString(),
    MaxLength(maxLength),
  );

export const OptionalCount = (example?: number) =>
  applyDecorators(
    ApiPropertyOptional({
      type: 'integer',
      minimum: 0,
      maximum: MAX_INT32,
      example,
      nullable: true,
    }),
    IsOptional(),
    IsInt(),
    Min(0),
    Max(MAX_INT32),
  );

/** What every free-form object's OpenAPI description says of its keys. */
const FREE_FORM_KEYS =
  'Stored and returned exactly as sent. Any keys (toString, valueOf and the like included) but ' +
  `__proto__, constructor and prototype, refused in every body; at most ${MAX_KEYS_PER_OBJECT} ` +
  `keys in any one object, nested at most ${MAX_JSON_DEPTH} levels.`;

export const OptionalObject = (description?: string) =>
  applyDecorators(
    ApiPropertyOptional({
      type: 'object',
      additionalProperties: true,
      nullable: true,
      description: description ? `${description} ${FREE_FORM_KEYS}` : FREE_FORM_KEYS,
    }),
    IsOptional(),
    IsObject(),
    AsGiven(),
  );

export const OptionalTags = (description = 'Tags (at most 100, each up to 256 characters).') =>
  applyDecorators(
    ApiPropertyOptional({
      type: 'array',
      items: { type: 'string', maxLength: 256 },
      maxItems: 100,
      description,
      example: ['billing'],
    }),
    IsOptional(),
    IsArray(),
    ArrayMaxSize(100),
    IsString({ each: true }),
    MaxLength(256, { each: true }),
  );

/**
 * A 64-bit nanosecond count, given as a JSON integer or a decimal string, kept as its exact decimal
 * text. (Integers beyond 2^53 reach here as strings: the body parser never rounds them.)
 */
export function NanosecondCount(options?: ValidationOptions) {
  return applyDecorators(
    ApiPropertyOptional({
      oneOf: [
        { type: 'integer', format: 'int64', minimum: 0 },
        { type: 'string', pattern: '^\\d{1,19}$', maxLength: 19 },
      ],
      description:
        'Nanoseconds, 0 to 2^63-1 (9223372036854775807); returned as a decimal string. Send a ' +
        'decimal string: a JSON number past 2^53 is exact here but is rounded by most clients ' +
        '(a JavaScript client’s number type among them). A 19-digit string above 2^63-1 is refused.',
      example: '1764316800123456789',
    }),
    IsOptional(),
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value,
    ),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'isNanosecondCount',
        target: target.constructor,
        propertyName: propertyName as string,
        options: {
          message: `${String(propertyName)} must be a non-negative 64-bit integer (a JSON integer or a decimal string)`,
          ...options,
        },
        validator: {
          validate: (value: unknown) =>
            typeof value === 'string' && /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_INT64,
        },
      }),
  );
}

/** A query parameter that may repeat: `?tags=a&tags=b` → ['a', 'b'], `?tags=a` → ['a']. */
export const RepeatableParam = (description: string) =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      value === undefined || Array.isArray(value) ? value : [value],
    ),
    OptionalTags(description),
  );
