import { IsOptional, Matches } from 'class-validator';
import { STEP_ID_PATTERN } from '../step-id.js';
import { UsageDto } from './usage.dto.js';
import { OptionalCount, OptionalTags, OptionalText } from './validators.js';

/** A new step: always created `pending`; usage may be known already or reported on success. */
export class CreateStepDto extends UsageDto {
  @IsOptional()
  @Matches(STEP_ID_PATTERN, { message: 'id must be "step-" followed by a lowercase UUID v4' })
  id?: string;

  @OptionalText() agent_id?: string;
  @OptionalText() run_id?: string;
  @OptionalText() project_id?: string;
  @OptionalText() origin?: string;
  @OptionalText() provider_name?: string;
  @OptionalText() provider_category?: string;
  @OptionalText() model?: string;
  @OptionalText(2048) model_endpoint?: string;
  @OptionalCount() context_window_limit?: number;
  @OptionalText() trace_id?: string;
  @OptionalText() request_id?: string;
  @OptionalTags() tags?: string[];
}
