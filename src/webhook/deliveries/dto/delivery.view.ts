import { ApiProperty } from '@nestjs/swagger';
import { STEP_ID_PATTERN } from '../../../steps/step-id.js';
import { DELIVERY_ID } from '../../delivery-id.js';
import { ENDPOINT_ID } from '../../endpoints/endpoint.js';
import { DELIVERY_STATUSES } from '../../entities/webhook-delivery.entity.js';

const ATTEMPT_OUTCOMES = ['success', 'http_error', 'timeout', 'network_error'];

const time = (nullable = false) => ApiProperty({ type: String, format: 'date-time', nullable });

export class DeliveryAttemptView {
  @ApiProperty({ type: 'integer', example: 1 }) number: number;
  @time() started_at: string;
  @ApiProperty({ type: 'integer', example: 12 }) duration_ms: number;
  @ApiProperty({ type: 'integer', nullable: true, example: 503 }) status_code: number | null;
  @ApiProperty({ enum: ATTEMPT_OUTCOMES }) outcome: string;
  @ApiProperty({ type: String, nullable: true, example: 'HTTP 503' }) error: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'First 2 KiB of the response body.' })
  response_body: string | null;
}

/** A delivery as the API returns it; `id` is the `webhook-id` its receiver saw. */
export class DeliveryView {
  @ApiProperty({
    pattern: DELIVERY_ID.pattern.source,
    example: 'msg_2b1e0c9d4f6a4e0f8a7b6c5d4e3f2a1b',
  })
  id: string;
  @ApiProperty({
    pattern: STEP_ID_PATTERN.source,
    example: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
  })
  step_id: string;
  @ApiProperty({
    pattern: ENDPOINT_ID.pattern.source,
    example: 'env',
    description: 'The endpoint it goes to; "env" is STEP_COMPLETE_WEBHOOK',
  })
  endpoint_id: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty({ type: 'integer' }) attempt_count: number;
  @time(true) next_attempt_at: string | null;
  @ApiProperty({ enum: ATTEMPT_OUTCOMES, nullable: true }) last_outcome: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) last_status_code: number | null;
  @ApiProperty({ type: String, nullable: true }) last_error: string | null;
  @time() created_at: string;
  @time() updated_at: string;
  @time(true) delivered_at: string | null;
}

export class DeliveryWithAttemptsView extends DeliveryView {
  @ApiProperty({ type: [DeliveryAttemptView] }) attempts: DeliveryAttemptView[];
}

export class RecoverResultView {
  @ApiProperty({ type: 'integer', example: 12 }) requeued: number;
}

/** Deliveries by state (of all endpoints, or of one). */
export class DeliveryCountsView {
  @ApiProperty({ type: 'integer', example: 3 }) pending: number;
  @ApiProperty({ type: 'integer', example: 0 }) held: number;
  @ApiProperty({ type: 'integer', example: 1_204 }) delivered: number;
  @ApiProperty({ type: 'integer', example: 2 }) failed: number;
}

/** Attempts over a span of time and how many succeeded (the last hour, the last 24 h). */
export class AttemptsSuccessView {
  @ApiProperty({ type: 'integer', example: 130 }) attempts: number;
  @ApiProperty({ type: 'integer', example: 128 }) succeeded: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 0.985,
    description: 'succeeded / attempts; null when there were no attempts',
  })
  success_rate: number | null;
}

class MinuteView {
  @ApiProperty({ format: 'date-time', description: 'Start of the minute (UTC)' }) minute: string;
  @ApiProperty({ type: 'integer' }) attempts: number;
  @ApiProperty({ type: 'integer' }) succeeded: number;
  @ApiProperty({ type: 'integer' }) failed: number;
}

/** Deliveries at a glance: what the dashboard shows above its table. */
export class DeliverySummaryView {
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'https://example.com/hooks/step',
    description:
      'STEP_COMPLETE_WEBHOOK without credentials or query; null when notifications are off',
  })
  receiver_url: string | null;
  @ApiProperty({ type: DeliveryCountsView }) counts: DeliveryCountsView;
  @time(true) oldest_pending_created_at: string | null;
  @ApiProperty({ type: 'integer', nullable: true, example: 42 }) oldest_pending_age_s:
    number | null;
  @ApiProperty({ type: AttemptsSuccessView }) last_hour: AttemptsSuccessView;
  @ApiProperty({
    type: [MinuteView],
    description:
      'The last 60 minutes, oldest first, the current minute last; empty minutes included',
  })
  attempts_per_minute: MinuteView[];
}
