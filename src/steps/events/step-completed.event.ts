import type { Step } from '../entities/step.entity.js';
import type { StopReason, TerminalStepStatus } from '../step-status.js';

/**
 * Raised once per step, by the transition that moves it out of `pending`: handed to the
 * StepCompletionOutbox inside the transaction, before its commit (`step-completion-outbox.ts`: the
 * webhook outbox writes its deliveries there, so a crash cannot lose one), then emitted after the
 * commit (`EventEmitter2`, `@OnEvent(STEP_COMPLETED)`) for everything that reacts to a completed
 * step — the webhook module starts the first attempts there. Never emitted for a transition that
 * rolled back.
 */
export const STEP_COMPLETED = 'step.completed';

export class StepCompletedEvent {
  constructor(
    readonly stepId: string,
    readonly status: TerminalStepStatus,
    readonly agentId: string | null,
    readonly runId: string | null,
    readonly projectId: string | null,
    readonly tags: readonly string[],
    readonly stopReason: StopReason | null,
    readonly completedAt: string,
    /** The step's `trace_id`, as the agent gave it. */
    readonly traceId: string | null = null,
  ) {
    Object.freeze(this);
  }

  static fromStep(step: Step): StepCompletedEvent {
    if (step.status === 'pending' || step.completedAt === null) {
      throw new Error(`Step ${step.id} is not completed`);
    }
    return new StepCompletedEvent(
      step.id,
      step.status,
      step.agentId,
      step.runId,
      step.projectId,
      Object.freeze([...step.tags]),
      step.stopReason,
      step.completedAt,
      step.traceId,
    );
  }
}
