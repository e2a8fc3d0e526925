import { ApiProperty } from '@nestjs/swagger';
import { ENDPOINT_LIMITS, PAYLOAD_MODES } from '../../../config/webhook.config.js';
import { AttemptsSuccessView, DeliveryCountsView } from '../../deliveries/dto/delivery.view.js';
import { ENDPOINT_ID } from '../endpoint.js';
import { MASKED_HEADER_VALUE } from '../endpoint.presenter.js';
import { BREAKER_OPENS_AFTER } from '../endpoint-throttles.js';
import type { BreakerView } from '../endpoint-throttles.js';
import { DISABLED_REASONS } from '../entities/webhook-endpoint.entity.js';
import type { EndpointFilterDto } from './endpoint.dto.js';
import { TERMINAL_STATUSES } from './endpoint.dto.js';

const time = () => ApiProperty({ type: String, format: 'date-time' });

/** An endpoint's circuit breaker (SPEC §9 "Isolation"), as every endpoint view shows it. */
export class EndpointBreakerView implements BreakerView {
  @ApiProperty({
    enum: ['closed', 'open'],
    description:
      `open after ${BREAKER_OPENS_AFTER} attempts in a row that timed out, could not connect or ` +
      'were answered 429 or 5xx: then one probe at a time (the first 1 s after opening, then ' +
      'after half as long as it has been open, 1 s to 30 s) until any other answer closes it. ' +
      'It never disables the endpoint; its deliveries wait as pending.',
  })
  state: 'closed' | 'open';
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'null while closed',
  })
  opened_at: string | null;
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description:
      'Attempts in a row that timed out, could not connect or were answered 429 or 5xx; any ' +
      'other answer resets it',
  })
  unreachable_attempts: number;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'While open: when the next probe may start; null while closed',
  })
  next_probe_at: string | null;
}

/** An endpoint as the API returns it; its secret only at creation and from `…/secret`. */
export class EndpointView {
  @ApiProperty({
    pattern: ENDPOINT_ID.pattern.source,
    example: 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  })
  id: string;
  @ApiProperty({
    example: 'https://billing.example.com/hooks/steps',
    description: 'For env: STEP_COMPLETE_WEBHOOK without credentials or query',
  })
  url: string;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({
    type: 'object',
    nullable: true,
    description: 'Only the criteria given; null hears every step',
    properties: {
      statuses: { type: 'array', items: { type: 'string', enum: TERMINAL_STATUSES } },
      agent_ids: { type: 'array', items: { type: 'string' } },
      project_ids: { type: 'array', items: { type: 'string' } },
      run_ids: { type: 'array', items: { type: 'string' } },
      tags: { type: 'array', items: { type: 'string' } },
    },
    additionalProperties: false,
  })
  filter: EndpointFilterDto | null;
  @ApiProperty({ enum: PAYLOAD_MODES }) payload: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description:
      'Extra request headers, names lower-cased. Their values are secrets: shown in full only in ' +
      'the answer that set them (the 201 of the create, the 200 of a PATCH that sent headers); ' +
      `every other view shows each value as "${MASKED_HEADER_VALUE}". A create or PATCH that sends ` +
      'that mask as a value is refused (400): send the value itself, or leave headers out of a ' +
      'PATCH to keep them.',
    example: { authorization: MASKED_HEADER_VALUE },
  })
  headers: Record<string, string>;
  @ApiProperty() disabled: boolean;
  @ApiProperty({ enum: DISABLED_REASONS, nullable: true }) disabled_reason: string | null;
  @ApiProperty({
    type: 'integer',
    minimum: ENDPOINT_LIMITS.maxInFlight.min,
    maximum: ENDPOINT_LIMITS.maxInFlight.max,
    description:
      'Attempts in flight at once, per delivering process. For env: STEP_COMPLETE_MAX_IN_FLIGHT',
  })
  max_in_flight: number;
  @ApiProperty({
    type: 'number',
    minimum: ENDPOINT_LIMITS.rateLimit.min,
    maximum: ENDPOINT_LIMITS.rateLimit.max,
    nullable: true,
    description:
      'Attempts per second across every process; null: no limit. For env: STEP_COMPLETE_RATE_LIMIT',
  })
  rate_limit: number | null;
  @ApiProperty({ type: EndpointBreakerView }) breaker: EndpointBreakerView;
  @time() created_at: string;
  @time() updated_at: string;
}

export class CreatedEndpointView extends EndpointView {
  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }) secret: string;
}

export class EndpointSecretView {
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: 'The newest secret: what a receiver verifies with',
  })
  secret: string;
}

/** An endpoint's health, as the dashboard shows it. */
export class EndpointStatsView {
  @ApiProperty({ pattern: ENDPOINT_ID.pattern.source, example: 'env' }) endpoint_id: string;
  @ApiProperty({ type: DeliveryCountsView, description: 'Its deliveries by state' })
  counts: DeliveryCountsView;
  @ApiProperty({ type: AttemptsSuccessView, description: 'Its attempts over the last 24 hours' })
  last_24h: AttemptsSuccessView;
  @ApiProperty({
    type: 'object',
    nullable: true,
    description: 'The last failed attempt of the last 24 hours; null when none failed',
    properties: {
      at: { type: 'string', format: 'date-time' },
      error: { type: 'string', nullable: true },
    },
    required: ['at', 'error'],
  })
  last_failure: { at: string; error: string | null } | null;
}
