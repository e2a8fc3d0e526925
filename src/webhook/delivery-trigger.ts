import type { WebhookDelivery } from './entities/webhook-delivery.entity.js';

/**
 * What sets delivery attempts going, however this process is configured: its own dispatcher and
 * scheduler (no REDIS_URL), a BullMQ queue shared with worker processes (REDIS_URL), or nothing at
 * all (DELIVERY_WORKER=off without a queue: a worker process polling the database does it). The
 * outbox, the step-completed listener and the operator routes speak only to this.
 */
export abstract class DeliveryTrigger {
  /**
   * Inside a step's transaction, before its delivery is written: until when the delivery may be
   * written already leased to this process (its first attempt then needs no claim), or null.
   */
  abstract reserve(): Date | null;

  /** The transaction that asked `reserve` rolled back. */
  abstract release(): void;

  /** After the step's commit: start the new delivery's first attempt. */
  abstract committed(delivery: WebhookDelivery): Promise<void>;

  /** An operator asked for one more attempt now, whatever the delivery's state. */
  abstract retryNow(deliveryId: string): Promise<void>;

  /** Deliveries were made due again in bulk (recover). */
  abstract requeued(deliveries: Pick<WebhookDelivery, 'id' | 'attemptCount'>[]): Promise<void>;

  /** For /ready: null while deliveries are being processed, else what is wrong. */
  abstract problem(): Promise<string | null>;
}
