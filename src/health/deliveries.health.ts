import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DeliveryTrigger } from '../webhook/dispatch/delivery-trigger.js';

/** Up while deliveries are being processed (or there is nothing for this process to process). */
@Injectable()
export class DeliveriesHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly trigger: DeliveryTrigger,
  ) {}

  async check(key: 'deliveries') {
    const indicator = this.indicators.check(key);
    const problem = await this.trigger.problem();
    return problem ? indicator.down({ message: problem }) : indicator.up();
  }
}
