import { randomUUID } from 'node:crypto';
import { IdFormat, ParseIdPipe } from '../common/id-format.js';

/** `step-<uuid v4>`, lowercase, as Letta writes step ids. */
export const STEP_ID_PATTERN =
  /^step-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const STEP_ID: IdFormat = {
  pattern: STEP_ID_PATTERN,
  description: 'a step id ("step-" followed by a lowercase UUID v4)',
};

/** The `step_id` path parameter. */
export const ParseStepIdPipe = new ParseIdPipe(STEP_ID, 'step_id');

export function newStepId(): string {
  return `step-${randomUUID()}`;
}
