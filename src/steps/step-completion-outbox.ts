import type { EntityManager } from 'typeorm';
import type { StepCompletedEvent } from './events/step-completed.event.js';

/**
 * The port for what must commit with a step's terminal transition: StepsService calls it inside
 * the transition's transaction, before the COMMIT, with that transaction's manager; if it throws,
 * the transition rolls back with it. StepsModule owns the port and knows nothing of webhooks;
 * WebhookModule's DeliveryOutbox implements it (one delivery per matching endpoint, so a crash after
 * the commit cannot lose a webhook) and provides it as STEP_COMPLETION_OUTBOX; the app wires the two
 * (`StepsModule.withCompletionOutbox`). Everything that only reacts to a completed step listens
 * for `step.completed` instead, after the commit.
 */
export interface StepCompletionOutbox {
  recordCompletion(event: StepCompletedEvent, manager: EntityManager): Promise<void>;
}

/** The injection token of the StepCompletionOutbox. */
export const STEP_COMPLETION_OUTBOX = Symbol('StepCompletionOutbox');
