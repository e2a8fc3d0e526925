import { Inject, Injectable, Optional } from '@nestjs/common';
import { NotDeliveringHereError } from '../webhook.errors.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { DeliveryTrigger, THIS_PROCESS_DELIVERS } from './delivery-trigger.js';
import { PgDeliveryNotifier } from './pg-delivery-notifier.js';

/**
 * Without a queue: this process's own dispatcher claims and sends the first attempts right after
 * the commit, and its scheduler polls the database for retries and whatever did not fit. On
 * PostgreSQL, what this process does not take itself (it does not deliver, or had no room) is
 * announced to the other processes (`PgDeliveryNotifier`: NOTIFY after the commit), whose
 * schedulers look at once instead of at their next poll.
 */
@Injectable()
export class InProcessTrigger extends DeliveryTrigger {
  constructor(
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly scheduler: DeliveryScheduler,
    @Optional() private readonly notifier?: PgDeliveryNotifier,
  ) {
    super();
  }

  async stepCommitted(stepId: string): Promise<void> {
    if (!this.delivers) {
      this.notifier?.announce();
      return;
    }
    let leftSome = true;
    try {
      leftSome = await this.dispatcher.launchForStep(stepId);
    } finally {
      if (leftSome) this.notifier?.announce();
    }
  }

  async retryNow(deliveryId: string): Promise<void> {
    if (!this.delivers) throw new NotDeliveringHereError();
    await this.dispatcher.retryNow(deliveryId);
  }

  requeued(): Promise<void> {
    this.scheduler.wake();
    this.notifier?.announce();
    return Promise.resolve();
  }

  problem(): Promise<string | null> {
    const stopped = this.delivers && !this.scheduler.running;
    return Promise.resolve(stopped ? 'the delivery scheduler is stopped' : null);
  }
}
