import type { PayloadMode } from '../config/webhook.config.js';
import type { StepCompletedEvent } from '../steps/events/step-completed.event.js';

/**
 * The webhook body. WARNING: this is the public contract receivers parse. `minimal` must stay
 * exactly `{"step_id":"…"}` (the original Letta payload); `full` only adds fields after step_id.
 */
export function buildWebhookBody(event: StepCompletedEvent, mode: PayloadMode): string {
  if (mode === 'minimal') return JSON.stringify({ step_id: event.stepId });
  return JSON.stringify({
    step_id: event.stepId,
    type: 'step.completed',
    timestamp: new Date().toISOString(),
    status: event.status,
    agent_id: event.agentId,
    run_id: event.runId,
    stop_reason: event.stopReason,
    completed_at: event.completedAt,
  });
}
