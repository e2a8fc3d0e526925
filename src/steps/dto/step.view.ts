import { STEP_ID_PATTERN } from '../step-id.js';
import { ApiProperty } from '@nestjs/swagger';
import { FEEDBACK_VALUES, STEP_STATUSES, STOP_REASONS } from '../step-status.js';

const text = (example?: string) => ApiProperty({ type: String, nullable: true, example });
const count = () => ApiProperty({ type: 'integer', nullable: true });
const json = () => ApiProperty({ type: 'object', additionalProperties: true, nullable: true });
const time = (nullable = false) => ApiProperty({ type: String, format: 'date-time', nullable });

/** The Step as the API returns it (documentation of presentStep). */
export class StepView {
  @ApiProperty({
    pattern: STEP_ID_PATTERN.source,
    example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
  })
  id: string;
  @ApiProperty({ enum: STEP_STATUSES }) status: string;
  @text('agent-1') agent_id: string | null;
  @text('run-1') run_id: string | null;
  @text() project_id: string | null;
  @text() origin: string | null;
  @text('openai') provider_name: string | null;
  @text() provider_category: string | null;
  @text('gpt-4o') model: string | null;
  @text() model_endpoint: string | null;
  @count() context_window_limit: number | null;
  @text() trace_id: string | null;
  @text() request_id: string | null;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty({ type: 'integer', example: 120 }) prompt_tokens: number;
  @ApiProperty({ type: 'integer', example: 30 }) completion_tokens: number;
  @ApiProperty({ type: 'integer', example: 150 }) total_tokens: number;
  @count() cached_input_tokens: number | null;
  @count() cache_write_tokens: number | null;
  @count() reasoning_tokens: number | null;
  @json() prompt_tokens_details: object | null;
  @json() completion_tokens_details: object | null;
  @ApiProperty({ enum: STOP_REASONS, nullable: true }) stop_reason: string | null;
  @text() error_type: string | null;
  @ApiProperty({
    type: 'object',
    nullable: true,
    properties: {
      message: { type: 'string' },
      traceback: { type: 'string', nullable: true },
      details: { type: 'object', additionalProperties: true, nullable: true },
    },
  })
  error_data: object | null;
  @ApiProperty({ enum: FEEDBACK_VALUES, nullable: true }) feedback: string | null;
  @time() created_at: string;
  @time() updated_at: string;
  @time(true) completed_at: string | null;
}

const nanos = () =>
  ApiProperty({
    type: String,
    nullable: true,
    pattern: '^\\d{1,19}$',
    example: '1764316800123456789',
  });

export class StepMetricsView {
  @ApiProperty({ pattern: STEP_ID_PATTERN.source, description: 'The step id.' }) id: string;
  @nanos() step_start_ns: string | null;
  @nanos() llm_request_start_ns: string | null;
  @nanos() llm_request_ns: string | null;
  @nanos() tool_execution_ns: string | null;
  @nanos() step_ns: string | null;
  @time() updated_at: string;
}
