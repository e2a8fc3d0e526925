import type { Step } from '../entities/step.entity.js';
import type { StopReason, TerminalStepStatus } from '../step-status.js';

/** Emitted once per step, after the commit that moved it out of `pending`. */
export const STEP_COMPLETED = 'step.completed';

export class StepCompletedEvent {
  constructor(
    readonly stepId: string,
    readonly status: TerminalStepStatus,
    readonly agentId: string | null,
    readonly runId: string | null,
    readonly stopReason: StopReason | null,
    readonly completedAt: string,
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
      step.stopReason,
      step.completedAt,
    );
  }
}
