import { ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional } from 'class-validator';
import { IdCursor } from '../../common/id-format.js';
import { PageQuery } from '../../common/cursor-page.js';
import { STEP_ID } from '../step-id.js';
import { FEEDBACK_VALUES, STEP_STATUSES } from '../step-status.js';
import type { Feedback, StepStatus } from '../step-status.js';
import { OptionalText, RepeatableParam } from './validators.js';
import { IsoTimestamp } from '../../common/iso-timestamp.js';

/** Filters and cursor paging of the step lists (Letta's paging contract). */
export class ListStepsQuery extends PageQuery {
  @OptionalText() agent_id?: string;
  @OptionalText() run_id?: string;
  @OptionalText() project_id?: string;
  @OptionalText() model?: string;
  @ApiPropertyOptional({ enum: STEP_STATUSES })
  @IsOptional()
  @IsIn(STEP_STATUSES)
  status?: StepStatus;
  @ApiPropertyOptional({ enum: FEEDBACK_VALUES })
  @IsOptional()
  @IsIn(FEEDBACK_VALUES)
  feedback?: Feedback;

  @ApiPropertyOptional({
    type: Boolean,
    description: 'true: only steps with feedback; false: only without.',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsIn([true, false], { message: 'has_feedback must be true or false' })
  has_feedback?: boolean;

  @RepeatableParam('Steps with any of these trace ids (repeat the parameter).')
  trace_ids?: string[];
  @RepeatableParam('Steps that carry every one of these tags (repeat the parameter).')
  tags?: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'created_at at or after this time.' })
  @IsoTimestamp()
  start_date?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'created_at at or before this time.' })
  @IsoTimestamp()
  end_date?: string;

  @IdCursor(STEP_ID, 'after') declare after?: string;
  @IdCursor(STEP_ID, 'before') declare before?: string;
}

/** The same, under /v1/runs/{run_id}/steps: the run comes from the path, so no run_id filter. */
export class ListRunStepsQuery extends OmitType(ListStepsQuery, ['run_id'] as const) {}
