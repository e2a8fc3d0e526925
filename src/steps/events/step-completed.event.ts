import type { Step } from '../entities/step.entity.js';
import type { StopReason, TerminalStepStatus } from '../step-status.js';

/**
 * Raised once per step, by the transition that moves it out of `pending`, on two buses:
 * - in the transaction, before its commit (`TransactionalEvents`, methods marked
 *   `@OnEventInTransaction(STEP_COMPLETED)`): for writes that must commit or roll back with the
 *   status — the webhook outbox writes its deliveries there, so a crash cannot lose one;
 * - after the commit (`EventEmitter2`, `@OnEvent(STEP_COMPLETED)`): for everything that reacts to
 *   a completed step — the webhook module starts the first attempts there. Never raised for a
 *   transition that rolled back.
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
