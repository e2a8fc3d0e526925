import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { isISO8601, IsOptional, Matches } from 'class-validator';

/**
 * An ISO 8601 date or date-time (optional unless told), normalised to the stored form (UTC, milliseconds)
 * so that it compares as text with the stored timestamps.
 */
export const IsoTimestamp = ({ optional = true } = {}) =>
  applyDecorators(
    ...(optional ? [IsOptional()] : []),
    Transform(({ value }: { value: unknown }) => {
      if (typeof value !== 'string' || !isISO8601(value, { strict: true })) return value;
      const time = Date.parse(value);
      return Number.isNaN(time) ? value : new Date(time).toISOString();
    }),
    Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, {
      message: ({ property }) => `${property} must be an ISO 8601 date or date-time`,
    }),
  );
