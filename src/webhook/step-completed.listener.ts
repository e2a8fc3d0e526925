import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { DeliveryOutbox } from './delivery-outbox.js';
import { DeliveryTrigger } from './delivery-trigger.js';

@Injectable()
export class StepCompletedListener {
  private readonly logger = new Logger(StepCompletedListener.name);

  constructor(
    private readonly outbox: DeliveryOutbox,
    private readonly trigger: DeliveryTrigger,
  ) {}

  /** `async`: runs after the emitting call returns, so the step never waits for its webhook. */
  @OnEvent(STEP_COMPLETED, { async: true, promisify: true })
  async onStepCompleted(event: StepCompletedEvent): Promise<void> {
    const delivery = this.outbox.takeCommitted(event.stepId);
    if (!delivery) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty, so no webhook is sent`,
        { step_id: event.stepId },
      );
      return;
    }
    await this.trigger.committed(delivery);
  }
}
