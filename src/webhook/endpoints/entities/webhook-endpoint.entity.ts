import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Why an endpoint is disabled: by an operator, or automatically after failing for too long. */
export const DISABLED_REASONS = ['manual', 'failing'] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

/**
 * A receiver created through the API (SPEC §9). The environment endpoint (`env`) has no row: its
 * settings come from the environment. JSON columns are text, so both dialects read them alike.
 */
@Entity({ name: 'webhook_endpoints' })
export class WebhookEndpoint {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  @Column({ type: 'text' })
  url: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** `EndpointFilter` as JSON; null hears every step. */
  @Column({ type: 'text', nullable: true })
  filter: string | null;

  @Column({ type: 'varchar', length: 16 })
  payload: string;

  /** Extra request headers as a JSON object. */
  @Column({ type: 'text' })
  headers: string;

  /** `StoredSecret[]` as JSON, newest first; a rotated-out secret carries its end. */
  @Column({ type: 'text' })
  secrets: string;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ name: 'disabled_reason', type: 'varchar', length: 16, nullable: true })
  disabledReason: DisabledReason | null;

  /** The first failed attempt of the current unbroken run of failures; null after a success. */
  @Column({ name: 'failing_since', type: 'varchar', length: 24, nullable: true })
  failingSince: string | null;

  /** Failed attempts since `failingSince`. */
  @Column({ name: 'failed_attempts', type: 'integer', default: 0 })
  failedAttempts: number;

  /** Attempts in flight at once for this endpoint, per delivering process (SPEC §9 Isolation). */
  @Column({ name: 'max_in_flight', type: 'integer', default: 64 })
  maxInFlight: number;

  /** Attempts per second across every delivering process; null: no limit. */
  @Column({ name: 'rate_limit', type: 'double precision', nullable: true })
  rateLimit: number | null;

  @Column({ name: 'created_at', type: 'varchar', length: 24 })
  createdAt: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 24 })
  updatedAt: string;
}
