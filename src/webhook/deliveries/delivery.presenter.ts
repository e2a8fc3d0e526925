import type { DeliveryAttempt } from '../entities/delivery-attempt.entity.js';
import type { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import type { AttemptOutcome } from '../sender/webhook-sender.js';
import type {
  DeliveryAttemptJson,
  DeliveryJson,
  DeliveryWithAttemptsJson,
} from './dto/delivery.view.js';

export type { DeliveryJson, DeliveryWithAttemptsJson };

/** A delivery as clients see it (DeliveryView); `id` is the `webhook-id` its receiver saw. */
export function presentDelivery(delivery: WebhookDelivery): DeliveryJson {
  return {
    id: delivery.id,
    step_id: delivery.stepId,
    endpoint_id: delivery.endpointId,
    status: delivery.status,
    attempt_count: delivery.attemptCount,
    next_attempt_at: delivery.nextAttemptAt,
    last_outcome: delivery.lastOutcome as AttemptOutcome | null,
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    created_at: delivery.createdAt,
    updated_at: delivery.updatedAt,
    delivered_at: delivery.deliveredAt,
  };
}

export function presentAttempt(attempt: DeliveryAttempt): DeliveryAttemptJson {
  return {
    number: attempt.number,
    started_at: attempt.startedAt,
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    outcome: attempt.outcome,
    error: attempt.error,
    response_body: attempt.responseBody,
  };
}

export function presentDeliveryWithAttempts(
  delivery: WebhookDelivery & { attempts: DeliveryAttempt[] },
): DeliveryWithAttemptsJson {
  return { ...presentDelivery(delivery), attempts: delivery.attempts.map(presentAttempt) };
}
