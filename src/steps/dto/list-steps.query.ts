import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { STEP_ID_PATTERN } from '../step-id.js';
import { FEEDBACK_VALUES, STEP_STATUSES } from '../step-status.js';
import type { Feedback, StepStatus } from '../step-status.js';
import { OptionalText, QueryTimestamp, RepeatableParam } from './validators.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const cursorMessage = (field: string) => ({
  message: `${field} must be a step id ("step-" followed by a lowercase UUID v4)`,
});

/** Filters and cursor paging of the step lists (Letta's paging contract). */
export class ListStepsQuery {
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

  @QueryTimestamp() start_date?: string;
  @QueryTimestamp() end_date?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @IsOptional() @IsIn(['asc', 'desc']) order?: 'asc' | 'desc';
  @IsOptional() @IsIn(['created_at']) order_by?: 'created_at';
  @IsOptional() @Matches(STEP_ID_PATTERN, cursorMessage('after')) after?: string;
  @IsOptional() @Matches(STEP_ID_PATTERN, cursorMessage('before')) before?: string;
}
