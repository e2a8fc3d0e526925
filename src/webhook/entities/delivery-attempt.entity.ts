import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { AttemptOutcome } from '../sender/webhook-sender.js';

/** One POST of a delivery and what came of it. */
@Entity({ name: 'webhook_delivery_attempts' })
export class DeliveryAttempt {
  @PrimaryColumn({ name: 'delivery_id', type: 'varchar', length: 40 })
  deliveryId: string;

  @PrimaryColumn({ type: 'integer' })
  number: number;

  @Column({ name: 'started_at', type: 'varchar', length: 24 })
  startedAt: string;

  @Column({ name: 'duration_ms', type: 'integer' })
  durationMs: number;

  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode: number | null;

  @Column({ type: 'varchar', length: 16 })
  outcome: AttemptOutcome;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** The first 2 KiB of the response body. */
  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody: string | null;
}
