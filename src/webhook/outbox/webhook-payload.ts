import type { PayloadMode } from '../../config/webhook.config.js';
import type { StepCompletedEvent } from '../../steps/events/step-completed.event.js';

/**
 * The webhook body. WARNING: this is the public contract receivers parse. `minimal` must stay
 * exactly `{"step_id":"…"}` (the original Letta payload); `full` only adds fields after step_id.
 * Built once, when the delivery is created, so every retry sends the same bytes.
 */
export function buildWebhookBody(
  event: StepCompletedEvent,
  mode: PayloadMode,
  createdAt: Date,
): string {
  if (mode === 'minimal') return JSON.stringify({ step_id: event.stepId });
  return JSON.stringify({
    step_id: event.stepId,
    type: 'step.completed',
    timestamp: createdAt.toISOString(),
    status: event.status,
    agent_id: event.agentId,
    run_id: event.runId,
    stop_reason: event.stopReason,
    completed_at: event.completedAt,
  });
}
