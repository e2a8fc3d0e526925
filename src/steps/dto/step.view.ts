import { Type } from 'typebox';
import type { Static } from 'typebox';
import {
  DateTime,
  FreeFormObject,
  Nullable,
  StringEnum,
  namedView,
} from '../../common/response-schema.js';
import { STEP_ID_PATTERN } from '../step-id.js';
import { FEEDBACK_VALUES, STEP_STATUSES, STOP_REASONS } from '../step-status.js';

const text = (example?: string) => Nullable(Type.String(example === undefined ? {} : { example }));
const count = () => Nullable(Type.Integer());
const json = () => Nullable(FreeFormObject());

/** The Step as the API returns it: what presentStep builds, and the document's StepView. */
export const StepView = namedView(
  'StepView',
  Type.Object({
    id: Type.String({
      pattern: STEP_ID_PATTERN.source,
      example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
    }),
    status: StringEnum(STEP_STATUSES),
    agent_id: text('agent-1'),
    run_id: text('run-1'),
    project_id: text(),
    origin: text(),
    provider_name: text('openai'),
    provider_category: text(),
    model: text('gpt-4o'),
    model_endpoint: text(),
    context_window_limit: count(),
    trace_id: text(),
    request_id: text(),
    tags: Type.Array(Type.String()),
    prompt_tokens: Type.Integer({ example: 120 }),
    completion_tokens: Type.Integer({ example: 30 }),
    total_tokens: Type.Integer({ example: 150 }),
    cached_input_tokens: count(),
    cache_write_tokens: count(),
    reasoning_tokens: count(),
    prompt_tokens_details: json(),
    completion_tokens_details: json(),
    stop_reason: Nullable(StringEnum(STOP_REASONS)),
    error_type: text(),
    error_data: Nullable(
      Type.Object({
        message: Type.Optional(Type.String()),
        traceback: Type.Optional(Nullable(Type.String())),
        details: Type.Optional(json()),
      }),
    ),
    feedback: Nullable(StringEnum(FEEDBACK_VALUES)),
    created_at: DateTime(),
    updated_at: DateTime(),
    completed_at: Nullable(DateTime()),
  }),
);
export type StepJson = Static<typeof StepView>;

const nanos = () =>
  Nullable(Type.String({ pattern: '^\\d{1,19}$', example: '1764316800123456789' }));

/** A step's timing metrics; nanosecond counts as decimal strings, exactly as recorded. */
export const StepMetricsView = namedView(
  'StepMetricsView',
  Type.Object({
    id: Type.String({ pattern: STEP_ID_PATTERN.source, description: 'The step id.' }),
    step_start_ns: nanos(),
    llm_request_start_ns: nanos(),
    llm_request_ns: nanos(),
    tool_execution_ns: nanos(),
    step_ns: nanos(),
    updated_at: DateTime(),
  }),
);
export type StepMetricsJson = Static<typeof StepMetricsView>;
