import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { WebhookConfig } from '../../config/webhook.config.js';
import { queryRows } from '../../database/raw-sql.js';
import { StephookMetrics } from '../../metrics/stephook-metrics.js';
import { ENV_ENDPOINT_ID } from './endpoint.js';
import { lockEndpointForChange } from './endpoint-locks.js';
import { BREAKER_OPENS_AFTER, recordReachability } from './endpoint-throttles.js';
import { bumpEndpointRevision, EndpointRegistry } from './endpoint-registry.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';

/** Failed attempts an endpoint must have had in its streak before it can be disabled. */
export const MIN_FAILED_ATTEMPTS_TO_DISABLE = 10;

export interface AttemptOutcomeAt {
  endpointId: string;
  succeeded: boolean;
  /** The receiver answered (any HTTP status): what closes a breaker. */
  reached: boolean;
  /** Its breaker was open and this was its probe. */
  probe: boolean;
  at: Date;
}

/** What a recorded batch changed: endpoints disabled, breakers opened and closed. */
export interface HealthChanges {
  disabled: string[];
  opened: string[];
  closed: string[];
}

/** One endpoint's attempts in a recorded batch, in order: what they do to its failing streak. */
interface StreakChange {
  /** A success came in: the streak starts again from the failures after the last one. */
  reset: boolean;
  /** Failures since the last success of the batch (or all, without one). */
  failures: number;
  firstFailureAt: string | null;
}

/**
 * SPEC §9 Health: each API endpoint's unbroken run of failed attempts (`failing_since`,
 * `failed_attempts`), kept in the transaction that records the attempts. A failure that finds the
 * run at least STEP_COMPLETE_DISABLE_AFTER long, with at least 10 failed attempts, disables the
 * endpoint (`failing`); a success ends the run. The environment endpoint is never disabled.
 * And SPEC §9 Isolation: every endpoint's circuit breaker (`endpoint-throttles.ts`), which only
 * spaces attempts, never disables.
 */
@Injectable()
export class EndpointHealth {
  private readonly logger = new Logger(EndpointHealth.name);

  constructor(
    @Inject(WEBHOOK_CONFIG) private readonly config: WebhookConfig,
    private readonly registry: EndpointRegistry,
    private readonly metrics: StephookMetrics,
  ) {}

  /**
   * Inside the transaction that records these attempts: updates each endpoint's streak, disables
   * those that have failed for too long (the caller holds their deliveries in the same
   * transaction), then opens and closes breakers. Endpoint rows come first in the lock order, in id
   * order, then throttle rows, so the caller writes the attempts after this.
   */
  async record(manager: EntityManager, outcomes: AttemptOutcomeAt[]): Promise<HealthChanges> {
    const disabled: string[] = [];
    for (const [endpointId, change] of streakChanges(outcomes)) {
      if (!change.reset && change.failures === 0) continue;
      const [row] = await queryRows(
        manager,
        `UPDATE webhook_endpoints
            SET failing_since = ${change.reset ? ':firstFailureAt' : 'COALESCE(failing_since, :firstFailureAt)'},
                failed_attempts = ${change.reset ? ':failures' : 'failed_attempts + :failures'}
          WHERE id = :endpointId ${change.reset && change.failures === 0 ? 'AND failing_since IS NOT NULL' : ''}
          RETURNING failing_since, failed_attempts, disabled`,
        { endpointId, failures: change.failures, firstFailureAt: change.firstFailureAt },
      );
      if (!row || change.failures === 0 || this.config.disableAfterMs === null) continue;
      const since = row.failing_since as string | null;
      const longEnough =
        since !== null && Date.now() - Date.parse(since) >= this.config.disableAfterMs;
      if (
        longEnough &&
        Number(row.failed_attempts) >= MIN_FAILED_ATTEMPTS_TO_DISABLE &&
        !Number(row.disabled)
      ) {
        // A change like PATCH {disabled: true}: no transition may be writing a delivery meanwhile.
        await lockEndpointForChange(manager, endpointId);
        await queryRows(
          manager,
          `UPDATE webhook_endpoints
              SET disabled = :disabled, disabled_reason = 'failing', updated_at = :now
            WHERE id = :endpointId`,
          { endpointId, disabled: true, now: new Date().toISOString() },
        );
        disabled.push(endpointId);
      }
    }
    const { opened, closed } = await recordReachability(manager, outcomes, Date.now());
    if (disabled.length + opened.length + closed.length > 0) await bumpEndpointRevision(manager);
    return { disabled, opened, closed };
  }

  /**
   * After the commit: says which endpoints were disabled and which breakers opened or closed, and
   * applies it here at once (other processes follow the revision).
   */
  async announce({ disabled, opened, closed }: HealthChanges): Promise<void> {
    if (disabled.length + opened.length + closed.length === 0) return;
    for (const endpointId of opened) {
      this.metrics.breakerChanged(endpointId, 'open');
      this.logger.warn(
        `Webhook endpoint ${endpointId} does not answer: its circuit breaker is open after ` +
          `${BREAKER_OPENS_AFTER} attempts in a row that timed out, could not connect or were ` +
          'answered 429 or 5xx. Its ' +
          'deliveries wait as pending; one probe at a time, spaced, until one gets an answer',
        { endpoint_id: endpointId },
      );
    }
    for (const endpointId of closed) {
      this.metrics.breakerChanged(endpointId, 'closed');
      this.logger.log(
        `Webhook endpoint ${endpointId} answers again: its circuit breaker is closed and its ` +
          'waiting deliveries are sent',
        { endpoint_id: endpointId },
      );
    }
    for (const endpointId of disabled) {
      this.metrics.endpointDisabled('failing');
      this.logger.warn(
        `Webhook endpoint ${endpointId} is disabled: its attempts have all failed for ` +
          `${Math.round(this.config.disableAfterMs! / 1000)} s or more. Its deliveries are held, ` +
          'not lost; enable it (PATCH {"disabled": false}) to send them',
        { endpoint_id: endpointId },
      );
    }
    await this.registry.reload().catch(() => undefined); // the revision poll catches up otherwise
  }
}

/** Each endpoint's change, in id order (the lock order). */
function streakChanges(outcomes: AttemptOutcomeAt[]): [string, StreakChange][] {
  const changes = new Map<string, StreakChange>();
  for (const outcome of outcomes) {
    if (outcome.endpointId === ENV_ENDPOINT_ID) continue;
    const change = changes.get(outcome.endpointId) ?? {
      reset: false,
      failures: 0,
      firstFailureAt: null,
    };
    if (outcome.succeeded) {
      change.reset = true;
      change.failures = 0;
      change.firstFailureAt = null;
    } else {
      change.failures += 1;
      change.firstFailureAt ??= outcome.at.toISOString();
    }
    changes.set(outcome.endpointId, change);
  }
  return [...changes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
