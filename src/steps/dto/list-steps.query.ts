import { Type } from 'typebox';
import type { Static, TUnsafe } from 'typebox';
import { idCursor } from '../../common/id-format.js';
import { PAGE_FIELDS, reportedOwnFirst } from '../../common/cursor-page.js';
import { isoTimestamp } from '../../common/iso-timestamp.js';
import { STEP_ID } from '../step-id.js';
import { FEEDBACK_VALUES, STEP_STATUSES } from '../step-status.js';
import type { Feedback, StepStatus } from '../step-status.js';
import { field, oneOfMessages, OptionalTags, textMessages } from './validators.js';

const text = () =>
  Type.Optional(field<string>({ type: 'string', maxLength: 512 }, textMessages(512)));

/** A query parameter that may repeat: `?tags=a&tags=b` → ['a', 'b'], `?tags=a` → ['a']. */
const repeatable = (description: string) =>
  Type.Optional(OptionalTags(description, false) as TUnsafe<string[]>);

const filters = (withRun: boolean) => ({
  agent_id: text(),
  ...(withRun ? { run_id: text() } : {}),
  project_id: text(),
  model: text(),
  status: Type.Optional(
    field<StepStatus>({ type: 'string', enum: [...STEP_STATUSES] }, oneOfMessages(STEP_STATUSES)),
  ),
  feedback: Type.Optional(
    field<Feedback>({ type: 'string', enum: [...FEEDBACK_VALUES] }, oneOfMessages(FEEDBACK_VALUES)),
  ),
  has_feedback: Type.Optional(
    field<boolean>(
      { type: 'boolean', description: 'true: only steps with feedback; false: only without.' },
      () => ['has_feedback must be true or false'],
    ),
  ),
  trace_ids: repeatable('Steps with any of these trace ids (repeat the parameter).'),
  tags: repeatable('Steps that carry every one of these tags (repeat the parameter).'),
  start_date: Type.Optional(isoTimestamp({ description: 'created_at at or after this time.' })),
  end_date: Type.Optional(isoTimestamp({ description: 'created_at at or before this time.' })),
  after: idCursor(STEP_ID, 'after'),
  before: idCursor(STEP_ID, 'before'),
});

/** Filters and cursor paging of the step lists (Letta's paging contract). */
export const ListStepsQuerySchema = reportedOwnFirst(
  Type.Object({ ...PAGE_FIELDS, ...filters(true) }, { additionalProperties: false }),
);
export type ListStepsQuery = Static<typeof ListStepsQuerySchema>;

/** The same, under /v1/runs/{run_id}/steps: the run comes from the path, so no run_id filter. */
export const ListRunStepsQuerySchema = reportedOwnFirst(
  Type.Object({ ...PAGE_FIELDS, ...filters(false) }, { additionalProperties: false }),
);
export type ListRunStepsQuery = Static<typeof ListRunStepsQuerySchema>;
