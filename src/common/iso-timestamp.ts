import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { isISO8601, IsOptional, Matches } from 'class-validator';
import { Type } from 'typebox';
import type { TUnsafe } from 'typebox';
import { withMessages } from './request-schema.js';

/**
 * A date (`2026-11-28`, midnight UTC) or a date-time with its time zone (`Z` or `±hh:mm`, as RFC 3339
 * and OpenAPI's date-time require): a time without a zone would be read in the server's own zone,
 * so it is refused. Optional unless told; normalised to the stored form (UTC, milliseconds) so that
 * it compares as text with the stored timestamps.
 */
const DATE_OR_ZONED_TIME =
  /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;

export const IsoTimestamp = ({ optional = true } = {}) =>
  applyDecorators(
    ...(optional ? [IsOptional()] : []),
    Transform(({ value }: { value: unknown }) => {
      if (typeof value !== 'string' || !DATE_OR_ZONED_TIME.test(value)) return value;
      if (!isISO8601(value, { strict: true })) return value;
      const time = Date.parse(value);
      return Number.isNaN(time) ? value : new Date(time).toISOString();
    }),
    Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, {
      message: ({ property }) =>
        `${property} must be an ISO 8601 date or a date-time with a time zone (Z or ±hh:mm)`,
    }),
  );

/**
 * A timestamp field of a request schema (`date-time` as stephook reads it, see request-schema.ts):
 * a date or a zoned date-time, normalised in place to the stored form.
 */
export const isoTimestamp = (
  documentation: Record<string, unknown>,
  nullable = false,
): TUnsafe<string> =>
  withMessages(
    Type.Unsafe<string>({
      type: 'string',
      format: 'date-time',
      'x-timestamp': true,
      ...(nullable ? { nullable: true } : {}),
      ...documentation,
    }),
    (_value, property) => [
      `${property} must be an ISO 8601 date or a date-time with a time zone (Z or ±hh:mm)`,
    ],
  );
