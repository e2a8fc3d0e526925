import { Column, Entity, PrimaryColumn } from 'typeorm';

/** `held`: its endpoint is disabled; it waits, unattempted, until the endpoint is enabled. */
export const DELIVERY_STATUSES = ['pending', 'held', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One step-completion notification, written in the transaction that completed the step. Its id is
 * the `webhook-id` header on every attempt, so receivers can dedupe. The body is frozen at creation
 * so every retry (and its signature) carries the same bytes.
 */
@Entity({ name: 'webhook_deliveries' })
export class WebhookDelivery {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  @Column({ name: 'step_id', type: 'varchar', length: 64 })
  stepId: string;

  /**
   * The step's project, copied when the delivery is written (a step's project never changes), so
   * what a key bound to projects may see is read here, without reaching into the steps table.
   */
  @Column({ name: 'project_id', type: 'varchar', nullable: true })
  projectId: string | null;

  /** The endpoint it goes to (`env`: STEP_COMPLETE_WEBHOOK). */
  @Column({ name: 'endpoint_id', type: 'varchar', length: 40, default: 'env' })
  endpointId: string;

  @Column({ type: 'varchar', length: 16 })
  status: DeliveryStatus;

  @Column({ type: 'text' })
  payload: string;

  /** Every attempt ever made; numbers the attempt log. */
  @Column({ name: 'attempt_count', type: 'integer', default: 0 })
  attemptCount: number;

  /** Failed attempts in the current run of the retry schedule; a recover starts a fresh run. */
  @Column({ name: 'schedule_position', type: 'integer', default: 0 })
  schedulePosition: number;

  /** When the next attempt is due (pending only). */
  @Column({ name: 'next_attempt_at', type: 'varchar', length: 24, nullable: true })
  nextAttemptAt: string | null;

  /** An attempt is under way until then; a crashed process's claim simply runs out. */
  @Column({ name: 'lease_until', type: 'varchar', length: 24, nullable: true })
  leaseUntil: string | null;

  @Column({ name: 'last_outcome', type: 'varchar', length: 16, nullable: true })
  lastOutcome: string | null;

  @Column({ name: 'last_status_code', type: 'integer', nullable: true })
  lastStatusCode: number | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ name: 'created_at', type: 'varchar', length: 24 })
  createdAt: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 24 })
  updatedAt: string;

  @Column({ name: 'delivered_at', type: 'varchar', length: 24, nullable: true })
  deliveredAt: string | null;

  /**
   * The W3C `traceparent` of the span that created it (with tracing on): each attempt's span is
   * its child, in the step's own trace when the step's `trace_id` is a W3C trace id.
   */
  @Column({ name: 'trace_parent', type: 'varchar', length: 55, nullable: true })
  traceParent: string | null;
}

/** A delivery as the queue and the operator routes name it: which one, and how many attempts so far. */
export type DeliveryRef = Pick<WebhookDelivery, 'id' | 'attemptCount'>;

/**
 * A job asks for the first attempts of what a step's transition wrote, or for one attempt of one
 * delivery (`manual`: an operator's retry, attempted whatever the delivery's state); the database
 * decides whether each is still due.
 */
export type DeliveryJob = { stepId: string } | { deliveryId: string; manual: boolean };

/** Why a delivery whose endpoint no longer exists ends without an attempt. */
export const ENDPOINT_DELETED = 'endpoint deleted';
