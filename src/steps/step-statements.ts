import type { EntityManager } from 'typeorm';
import { PreparedStatement } from '../database/prepared-statements.js';
import type { Step } from './entities/step.entity.js';
import type { Feedback, StepStatus, StopReason, TerminalStepStatus } from './step-status.js';

/** Every column of `steps`, in the entity's order: what the hot path reads back. */
const STEP_COLUMNS = `id, status, agent_id, run_id, project_id, origin, provider_name,
  provider_category, model, model_endpoint, context_window_limit, trace_id, request_id, tags,
  prompt_tokens, completion_tokens, total_tokens, cached_input_tokens, cache_write_tokens,
  reasoning_tokens, prompt_tokens_details, completion_tokens_details, stop_reason, error_type,
  error_data, feedback, created_at, updated_at, completed_at`;

/**
 * The terminal transition: the guarded UPDATE that only a pending step passes, and the step as it
 * now is. One text for every terminal call: a field the call did not give is bound as NULL and
 * keeps its column (`COALESCE`), which is what leaving it out of the SET meant.
 */
const TRANSITION = new PreparedStatement<StepRow>(
  'step_transition',
  `UPDATE steps
      SET status = :status, completed_at = :now, updated_at = :now,
          prompt_tokens = COALESCE(:promptTokens, prompt_tokens),
          completion_tokens = COALESCE(:completionTokens, completion_tokens),
          total_tokens = COALESCE(:totalTokens, total_tokens),
          cached_input_tokens = COALESCE(:cachedInputTokens, cached_input_tokens),
          cache_write_tokens = COALESCE(:cacheWriteTokens, cache_write_tokens),
          reasoning_tokens = COALESCE(:reasoningTokens, reasoning_tokens),
          prompt_tokens_details = COALESCE(:promptTokensDetails, prompt_tokens_details),
          completion_tokens_details = COALESCE(:completionTokensDetails, completion_tokens_details),
          stop_reason = COALESCE(:stopReason, stop_reason),
          error_type = COALESCE(:errorType, error_type),
          error_data = COALESCE(:errorData, error_data)
    WHERE id = :stepId AND status = 'pending'
    RETURNING ${STEP_COLUMNS}`,
);

/** What a terminal call may set besides the status (a pending step has no stop reason or error). */
export type TerminalChanges = Partial<
  Pick<
    Step,
    | 'promptTokens'
    | 'completionTokens'
    | 'totalTokens'
    | 'cachedInputTokens'
    | 'cacheWriteTokens'
    | 'reasoningTokens'
    | 'promptTokensDetails'
    | 'completionTokensDetails'
    | 'stopReason'
    | 'errorType'
    | 'errorData'
  >
>;

/**
 * Moves a pending step to `status` with `changes`, at `now`; the step as committed, or null when it
 * was not pending (or does not exist).
 */
export async function transitionStep(
  manager: EntityManager,
  stepId: string,
  status: TerminalStepStatus,
  changes: TerminalChanges,
  now: string,
): Promise<Step | null> {
  const [row] = await TRANSITION.rows(manager, {
    stepId,
    status,
    now,
    promptTokens: changes.promptTokens,
    completionTokens: changes.completionTokens,
    totalTokens: changes.totalTokens,
    cachedInputTokens: changes.cachedInputTokens,
    cacheWriteTokens: changes.cacheWriteTokens,
    reasoningTokens: changes.reasoningTokens,
    promptTokensDetails: json(changes.promptTokensDetails),
    completionTokensDetails: json(changes.completionTokensDetails),
    stopReason: changes.stopReason,
    errorType: changes.errorType,
    errorData: json(changes.errorData),
  });
  return row ? stepFromRow(row) : null;
}

/** A `simple-json` column's stored text, as TypeORM writes it. */
function json(value: object | null | undefined): string | null {
  return value == null ? null : JSON.stringify(value);
}

/** A `simple-json` column's value, as TypeORM reads it. */
function parsed<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** A row of STEP_COLUMNS, as both drivers give it (`simple-json` columns as their text). */
interface StepRow {
  id: string;
  status: StepStatus;
  agent_id: string | null;
  run_id: string | null;
  project_id: string | null;
  origin: string | null;
  provider_name: string | null;
  provider_category: string | null;
  model: string | null;
  model_endpoint: string | null;
  context_window_limit: number | null;
  trace_id: string | null;
  request_id: string | null;
  tags: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_input_tokens: number | null;
  cache_write_tokens: number | null;
  reasoning_tokens: number | null;
  prompt_tokens_details: string | null;
  completion_tokens_details: string | null;
  stop_reason: StopReason | null;
  error_type: string | null;
  error_data: string | null;
  feedback: Feedback | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

/** A row of STEP_COLUMNS as the Step it is (the conversions TypeORM's hydration makes). */
function stepFromRow(row: StepRow): Step {
  return {
    id: row.id,
    status: row.status,
    agentId: row.agent_id,
    runId: row.run_id,
    projectId: row.project_id,
    origin: row.origin,
    providerName: row.provider_name,
    providerCategory: row.provider_category,
    model: row.model,
    modelEndpoint: row.model_endpoint,
    contextWindowLimit: row.context_window_limit,
    traceId: row.trace_id,
    requestId: row.request_id,
    tags: JSON.parse(row.tags) as string[],
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    totalTokens: row.total_tokens,
    cachedInputTokens: row.cached_input_tokens,
    cacheWriteTokens: row.cache_write_tokens,
    reasoningTokens: row.reasoning_tokens,
    promptTokensDetails: parsed(row.prompt_tokens_details),
    completionTokensDetails: parsed(row.completion_tokens_details),
    stopReason: row.stop_reason,
    errorType: row.error_type,
    errorData: parsed(row.error_data),
    feedback: row.feedback,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}
