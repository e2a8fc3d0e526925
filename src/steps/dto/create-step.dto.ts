import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { STEP_ID_PATTERN } from '../step-id.js';
import { UsageDto } from './usage.dto.js';
import { OptionalCount, OptionalTags, OptionalText } from './validators.js';

/** A new step: always created `pending`; usage may be known already or reported on success. */
export class CreateStepDto extends UsageDto {
  @ApiPropertyOptional({
    type: String,
    pattern: STEP_ID_PATTERN.source,
    description: 'step-<uuid v4>; generated when left out.',
    example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
  })
  @IsOptional()
  @Matches(STEP_ID_PATTERN, { message: 'id must be "step-" followed by a lowercase UUID v4' })
  id?: string;

  @OptionalText(512, 'agent-1') agent_id?: string;
  @OptionalText(512, 'run-1') run_id?: string;
  @OptionalText() project_id?: string;
  @OptionalText() origin?: string;
  @OptionalText() provider_name?: string;
  @OptionalText() provider_category?: string;
  @OptionalText(512, 'gpt-4o') model?: string;
  @OptionalText(2048) model_endpoint?: string;
  @OptionalCount() context_window_limit?: number;
  @OptionalText() trace_id?: string;
  @OptionalText() request_id?: string;
  @OptionalTags() tags?: string[];
}
