import type { StepMetricsJson, StepJson } from './dto/step.view.js';
import type { StepMetrics } from './entities/step-metrics.entity.js';
import type { Step } from './entities/step.entity.js';

export type { StepJson, StepMetricsJson };

/**
 * The Step as clients see it: Letta's snake_case JSON. Field names here are the public contract,
 * typed by the schema that documents it (StepView).
 */
export function presentStep(step: Step): StepJson {
  return {
    id: step.id,
    status: step.status,
    agent_id: step.agentId,
    run_id: step.runId,
    project_id: step.projectId,
    origin: step.origin,
    provider_name: step.providerName,
    provider_category: step.providerCategory,
    model: step.model,
    model_endpoint: step.modelEndpoint,
    context_window_limit: step.contextWindowLimit,
    trace_id: step.traceId,
    request_id: step.requestId,
    tags: step.tags,
    prompt_tokens: step.promptTokens,
    completion_tokens: step.completionTokens,
    total_tokens: step.totalTokens,
    cached_input_tokens: step.cachedInputTokens,
    cache_write_tokens: step.cacheWriteTokens,
    reasoning_tokens: step.reasoningTokens,
    prompt_tokens_details: step.promptTokensDetails,
    completion_tokens_details: step.completionTokensDetails,
    stop_reason: step.stopReason,
    error_type: step.errorType,
    error_data: step.errorData,
    feedback: step.feedback,
    created_at: step.createdAt,
    updated_at: step.updatedAt,
    completed_at: step.completedAt,
  };
}

/** Nanosecond counts go out as decimal strings, exactly as recorded. */
export function presentStepMetrics(metrics: StepMetrics): StepMetricsJson {
  return {
    id: metrics.id,
    step_start_ns: metrics.stepStartNs,
    llm_request_start_ns: metrics.llmRequestStartNs,
    llm_request_ns: metrics.llmRequestNs,
    tool_execution_ns: metrics.toolExecutionNs,
    step_ns: metrics.stepNs,
    updated_at: metrics.updatedAt,
  };
}
