import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * What every delivering process shares about one endpoint's pace (SPEC §9 "Isolation"), the
 * environment endpoint's included: the rate limit's next free time and the circuit breaker. A row
 * appears with the first attempt or claim that needs it; none means a closed breaker and a full
 * rate allowance.
 */
@Entity({ name: 'webhook_endpoint_throttles' })
export class WebhookEndpointThrottle {
  @PrimaryColumn({ name: 'endpoint_id', type: 'varchar', length: 40 })
  endpointId: string;

  /** The rate limit's theoretical arrival time (GCRA), ms since the epoch. */
  @Column({ name: 'rate_next_at', type: 'bigint', default: 0 })
  rateNextAt: string;

  /** Attempts in a row that timed out, could not connect or got 429/5xx; any other answer resets it. */
  @Column({ name: 'unreachable_attempts', type: 'integer', default: 0 })
  unreachableAttempts: number;

  /** When the breaker opened; null while it is closed. */
  @Column({ name: 'breaker_opened_at', type: 'varchar', length: 24, nullable: true })
  breakerOpenedAt: string | null;

  /** While open: when the next probe may start (ms since the epoch). */
  @Column({ name: 'probe_at', type: 'bigint', nullable: true })
  probeAt: string | null;
}
