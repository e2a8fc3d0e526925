import type { DeliveryRef } from '../entities/webhook-delivery.entity.js';

/** Whether this process makes delivery attempts itself (DELIVERY_WORKER=on, or a worker process). */
export const THIS_PROCESS_DELIVERS = Symbol('THIS_PROCESS_DELIVERS');

/**
 * What sets delivery attempts going, however this process is configured: its own dispatcher and
 * scheduler (no REDIS_URL: `InProcessTrigger`), a BullMQ queue shared with worker processes
 * (REDIS_URL: `QueuedTrigger`), or nothing at all (DELIVERY_WORKER=off without a queue: a worker
 * process polling the database does it). The outbox and the operator routes speak only to this.
 */
export abstract class DeliveryTrigger {
  /** After a step's commit: start the first attempts of the deliveries written with it. */
  abstract stepCommitted(stepId: string): Promise<void>;

  /** An operator asked for one more attempt now, whatever the delivery's state. */
  abstract retryNow(deliveryId: string): Promise<void>;

  /** Deliveries were made due again in bulk (recover). */
  abstract requeued(deliveries: DeliveryRef[]): Promise<void>;

  /** For /ready: null while deliveries are being processed, else what is wrong. */
  abstract problem(): Promise<string | null>;
}
