import { Type } from 'typebox';
import type { Static } from 'typebox';
import { DateTime, Nullable, StringEnum, namedView } from '../../../common/response-schema.js';
import { STEP_ID_PATTERN } from '../../../steps/step-id.js';
import { DELIVERY_ID } from '../../delivery-id.js';
import { ENDPOINT_ID } from '../../endpoints/endpoint.js';
import { DELIVERY_STATUSES } from '../../entities/webhook-delivery.entity.js';
import type { AttemptOutcome } from '../../sender/webhook-sender.js';

const ATTEMPT_OUTCOMES: AttemptOutcome[] = ['success', 'http_error', 'timeout', 'network_error'];

/** One attempt of a delivery: what presentAttempt builds. */
export const DeliveryAttemptView = namedView(
  'DeliveryAttemptView',
  Type.Object({
    number: Type.Integer({ example: 1 }),
    started_at: DateTime(),
    duration_ms: Type.Integer({ example: 12 }),
    status_code: Nullable(Type.Integer({ example: 503 })),
    outcome: StringEnum(ATTEMPT_OUTCOMES),
    error: Nullable(Type.String({ example: 'HTTP 503' })),
    response_body: Nullable(Type.String({ description: 'First 2 KiB of the response body.' })),
  }),
);
export type DeliveryAttemptJson = Static<typeof DeliveryAttemptView>;

const DELIVERY_FIELDS = {
  id: Type.String({
    pattern: DELIVERY_ID.pattern.source,
    example: 'msg_2b1e0c9d4f6a4e0f8a7b6c5d4e3f2a1b',
  }),
  step_id: Type.String({
    pattern: STEP_ID_PATTERN.source,
    example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
  }),
  endpoint_id: Type.String({
    pattern: ENDPOINT_ID.pattern.source,
    example: 'env',
    description: 'The endpoint it goes to; "env" is STEP_COMPLETE_WEBHOOK',
  }),
  status: StringEnum(DELIVERY_STATUSES),
  attempt_count: Type.Integer(),
  next_attempt_at: Nullable(DateTime()),
  last_outcome: Nullable(StringEnum(ATTEMPT_OUTCOMES)),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: DateTime(),
  updated_at: DateTime(),
  delivered_at: Nullable(DateTime()),
};

/** A delivery as the API returns it (presentDelivery); `id` is the `webhook-id` its receiver saw. */
export const DeliveryView = namedView('DeliveryView', Type.Object(DELIVERY_FIELDS));
export type DeliveryJson = Static<typeof DeliveryView>;

/** A delivery with every attempt (presentDeliveryWithAttempts). */
export const DeliveryWithAttemptsView = namedView(
  'DeliveryWithAttemptsView',
  Type.Object({ ...DELIVERY_FIELDS, attempts: Type.Array(DeliveryAttemptView) }),
);
export type DeliveryWithAttemptsJson = Static<typeof DeliveryWithAttemptsView>;

export const RecoverResultView = namedView(
  'RecoverResultView',
  Type.Object({ requeued: Type.Integer({ example: 12 }) }),
);
export type RecoverResultJson = Static<typeof RecoverResultView>;

/** Deliveries by state (of all endpoints, or of one). */
export const DeliveryCountsView = namedView(
  'DeliveryCountsView',
  Type.Object({
    pending: Type.Integer({ example: 3 }),
    held: Type.Integer({ example: 0 }),
    delivered: Type.Integer({ example: 1_204 }),
    failed: Type.Integer({ example: 2 }),
  }),
);

/** Attempts over a span of time and how many succeeded (the last hour, the last 24 h). */
export const AttemptsSuccessView = namedView(
  'AttemptsSuccessView',
  Type.Object({
    attempts: Type.Integer({ example: 130 }),
    succeeded: Type.Integer({ example: 128 }),
    success_rate: Nullable(
      Type.Number({
        example: 0.985,
        description: 'succeeded / attempts; null when there were no attempts',
      }),
    ),
  }),
);

const MinuteView = namedView(
  'MinuteView',
  Type.Object({
    minute: DateTime({ description: 'Start of the minute (UTC)' }),
    attempts: Type.Integer(),
    succeeded: Type.Integer(),
    failed: Type.Integer(),
  }),
);

/** Deliveries at a glance (of the asker's projects): what the dashboard shows above its table. */
export const DeliverySummaryView = namedView(
  'DeliverySummaryView',
  Type.Object({
    receiver_url: Nullable(
      Type.String({
        example: 'https://example.com/hooks/step',
        description:
          'STEP_COMPLETE_WEBHOOK without credentials or query; null when notifications are off, ' +
          'and for a key bound to projects (the environment endpoint is not theirs)',
      }),
    ),
    counts: DeliveryCountsView,
    oldest_pending_created_at: Nullable(DateTime()),
    oldest_pending_age_s: Nullable(Type.Integer({ example: 42 })),
    last_hour: AttemptsSuccessView,
    attempts_per_minute: Type.Array(MinuteView, {
      description:
        'The last 60 minutes, oldest first, the current minute last; empty minutes included',
    }),
  }),
);
export type DeliverySummaryJson = Static<typeof DeliverySummaryView>;
