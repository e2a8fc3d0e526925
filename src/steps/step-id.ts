import { randomUUID } from 'node:crypto';
import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';

/** `step-<uuid v4>`, lowercase, as Letta writes step ids. */
export const STEP_ID_PATTERN =
  /^step-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newStepId(): string {
  return `step-${randomUUID()}`;
}

/** Rejects a path id that is not `step-<uuid v4>` before any query runs. */
@Injectable()
export class ParseStepIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!STEP_ID_PATTERN.test(value)) {
      throw new BadRequestException('step_id must be "step-" followed by a lowercase UUID v4');
    }
    return value;
  }
}
