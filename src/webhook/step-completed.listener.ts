import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { DeliveryOutbox } from './delivery-outbox.js';

@Injectable()
export class StepCompletedListener {
  constructor(private readonly outbox: DeliveryOutbox) {}

  /** `async`: runs after the emitting call returns, so the step never waits for its webhook. */
  @OnEvent(STEP_COMPLETED, { async: true, promisify: true })
  onStepCompleted(event: StepCompletedEvent): Promise<void> {
    return this.outbox.committed(event);
  }
}
