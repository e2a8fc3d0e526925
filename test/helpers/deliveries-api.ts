import request from 'supertest';
import type { App } from 'supertest/types.js';
import type { DeliveryWithAttemptsJson } from '../../src/webhook/deliveries/delivery.presenter.js';
import type { RecordingLogger } from './recording-logger.js';

export class DeliveriesApi {
  constructor(
    private readonly server: App,
    private readonly logs: RecordingLogger,
  ) {}

  async forStep(stepId: string): Promise<DeliveryWithAttemptsJson[]> {
    const response = await request(this.server).get(`/v1/steps/${stepId}/deliveries`).expect(200);
    return response.body as DeliveryWithAttemptsJson[];
  }

  /** Waits (on the dispatcher's log lines, not a clock) until the step's delivery is `status`. */
  async settled(stepId: string, status: 'delivered' | 'failed'): Promise<DeliveryWithAttemptsJson> {
    const marker = status === 'delivered' ? ' delivered: ' : 'giving up';
    await this.logs.waitFor(
      (entry) => entry.message.includes(stepId) && entry.message.includes(marker),
    );
    const [delivery] = await this.forStep(stepId);
    return delivery;
  }
}
