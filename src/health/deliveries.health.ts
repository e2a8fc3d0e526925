import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DeliveryScheduler } from '../webhook/delivery-scheduler.js';

/** Up while deliveries are being processed (or notifications are off, so there is nothing to process). */
@Injectable()
export class DeliveriesHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly scheduler: DeliveryScheduler,
  ) {}

  check(key: 'deliveries') {
    const indicator = this.indicators.check(key);
    if (!this.scheduler.enabled) return indicator.up({ notifications: 'off' });
    return this.scheduler.running
      ? indicator.up()
      : indicator.down({ message: 'the delivery scheduler is stopped' });
  }
}
