import { Type } from 'typebox';
import type { TUnsafe } from 'typebox';
import { ajv, withMessages } from './request-schema.js';
import type { DataContext } from './request-schema.js';

/**
 * A date (`2026-11-28`, midnight UTC) or a date-time with its time zone (`Z` or `±hh:mm`, as RFC 3339
 * and OpenAPI's date-time require): a time without a zone would be read in the server's own zone,
 * so it is refused. Upper-case T and Z only, as ISO 8601 strict reads them.
 */
const DATE_OR_ZONED_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2})))?$/;

/** The instant `text` names, or null when it is no date or zoned date-time of the calendar. */
export function zonedInstant(text: string): number | null {
  const parts = DATE_OR_ZONED_TIME.exec(text);
  if (!parts) return null;
  const [
    ,
    year,
    month,
    day,
    hour = '0',
    minute = '0',
    second = '0',
    ,
    zoneHour = '0',
    zoneMinute = '0',
  ] = parts;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (
    date.getUTCFullYear() !== Number(year) ||
    date.getUTCMonth() !== Number(month) - 1 ||
    date.getUTCDate() !== Number(day) ||
    Number(hour) > 23 ||
    Number(minute) > 59 ||
    Number(second) > 59 ||
    Number(zoneHour) > 23 ||
    Number(zoneMinute) > 59
  ) {
    return null;
  }
  const time = Date.parse(text);
  return Number.isNaN(time) ? null : time;
}

/** OpenAPI's `date-time`, as stephook reads it: a date, or a date-time with its time zone. */
ajv.addFormat('date-time', {
  type: 'string',
  validate: (text: string) => zonedInstant(text) !== null,
});

/**
 * `x-timestamp`: a valid `date-time` is normalised in place to the stored form (UTC, milliseconds)
 * so that it compares as text with the stored timestamps.
 */
ajv.addKeyword({
  keyword: 'x-timestamp',
  schemaType: 'boolean',
  modifying: true,
  errors: false,
  validate: (_enabled: boolean, data: unknown, _schema: unknown, context?: DataContext) => {
    if (typeof data !== 'string' || !context) return true;
    const time = zonedInstant(data);
    if (time !== null)
      context.parentData[context.parentDataProperty] = new Date(time).toISOString();
    return true;
  },
});

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
