import { Inject, Injectable } from '@nestjs/common';
import { NotDeliveringHereError } from '../webhook.errors.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { DeliveryTrigger, THIS_PROCESS_DELIVERS } from './delivery-trigger.js';

/**
 * Without a queue: this process's own dispatcher claims and sends the first attempts right after
 * the commit, and its scheduler polls the database for retries and whatever did not fit.
 */
@Injectable()
export class InProcessTrigger extends DeliveryTrigger {
  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly scheduler: DeliveryScheduler,
  ) {
    super();
  }

  async stepCommitted(stepId: string): Promise<void> {
    if (this.delivers) await this.dispatcher.launchForStep(stepId);
  }

  async retryNow(deliveryId: string): Promise<void> {
    if (!this.delivers) throw new NotDeliveringHereError();
    await this.dispatcher.retryNow(deliveryId);
  }

  requeued(): Promise<void> {
    this.scheduler.wake();
    return Promise.resolve();
  }

  problem(): Promise<string | null> {
    const stopped = this.delivers && !this.scheduler.running;
    return Promise.resolve(stopped ? 'the delivery scheduler is stopped' : null);
  }
}
