import { Transform } from 'class-transformer';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { PageQuery } from '../../common/cursor-page.js';
import { STEP_ID_PATTERN } from '../step-id.js';
import { FEEDBACK_VALUES, STEP_STATUSES } from '../step-status.js';
import type { Feedback, StepStatus } from '../step-status.js';
import { OptionalText, RepeatableParam } from './validators.js';
import { IsoTimestamp } from '../../common/iso-timestamp.js';

const cursorMessage = (field: string) => ({
  message: `${field} must be a step id ("step-" followed by a lowercase UUID v4)`,
});

/** Filters and cursor paging of the step lists (Letta's paging contract). */
export class ListStepsQuery extends PageQuery {
  @OptionalText() agent_id?: string;
  @OptionalText() run_id?: string;
  @OptionalText() project_id?: string;
  @OptionalText() model?: string;
  @IsOptional() @IsIn(STEP_STATUSES) status?: StepStatus;
  @IsOptional() @IsIn(FEEDBACK_VALUES) feedback?: Feedback;

  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsIn([true, false], { message: 'has_feedback must be true or false' })
  has_feedback?: boolean;

  @RepeatableParam() trace_ids?: string[];
  /** Every tag given must be on the step. */
  @RepeatableParam() tags?: string[];

  @IsoTimestamp() start_date?: string;
  @IsoTimestamp() end_date?: string;

  @IsOptional() @Matches(STEP_ID_PATTERN, cursorMessage('after')) declare after?: string;
  @IsOptional() @Matches(STEP_ID_PATTERN, cursorMessage('before')) declare before?: string;
}
