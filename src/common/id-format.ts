import { BadRequestException, PipeTransform } from '@nestjs/common';
import { Type } from 'typebox';
import { withMessages } from './request-schema.js';

/** The shape of one kind of id, and how to name it in a 400. */
export interface IdFormat {
  pattern: RegExp;
  /** e.g. `a step id ("step-" followed by a lowercase UUID v4)` */
  description: string;
}

const mustBe = (field: string, format: IdFormat) => `${field} must be ${format.description}`;

/** Rejects a path id of the wrong shape before any query runs: `new ParseIdPipe(format, 'step_id')`. */
export class ParseIdPipe implements PipeTransform<string, string> {
  constructor(
    private readonly format: IdFormat,
    private readonly field: string,
  ) {}

  transform(value: string): string {
    if (!this.format.pattern.test(value))
      throw new BadRequestException(mustBe(this.field, this.format));
    return value;
  }
}

/** A paging cursor (`after` / `before`) of a query schema: an optional id of the listed kind. */
export const idCursor = (format: IdFormat, field: 'after' | 'before') =>
  Type.Optional(
    withMessages(
      Type.Unsafe<string>({
        type: 'string',
        pattern: format.pattern.source,
        description: `${format.description}: the rows that come ${field} it in the requested order.`,
      }),
      () => [mustBe(field, format)],
    ),
  );
