import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryScheduler } from './delivery-scheduler.js';
import { THIS_PROCESS_DELIVERS } from './delivery-tokens.js';
import { DeliveryTrigger } from './delivery-trigger.js';
import type { WebhookDelivery } from './entities/webhook-delivery.entity.js';

export class NotDeliveringHereError extends DomainError {
  constructor() {
    super(
      'conflict',
      'This process does not deliver (DELIVERY_WORKER=off) and no queue (REDIS_URL) reaches one that does',
    );
  }
}

/**
 * Without a queue: this process's own dispatcher makes the first attempt right after the commit
 * (usually with no claim at all: the delivery is written already leased to it), and its scheduler
 * polls the database for retries and leftovers.
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

  reserve(): Date | null {
    return this.delivers ? this.dispatcher.reserveSlot() : null;
  }

  release(): void {
    this.dispatcher.releaseSlot();
  }

  async committed(delivery: WebhookDelivery): Promise<void> {
    if (!this.delivers) return;
    if (delivery.leaseUntil) await this.dispatcher.launchReserved(delivery);
    else await this.dispatcher.claimAndLaunch(delivery.id);
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
