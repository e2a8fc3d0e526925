import { Type } from 'typebox';
import type { Static } from 'typebox';
import { DateTime, Nullable, StringEnum, namedView } from '../../../common/response-schema.js';
import { describedObject } from '../../../common/request-schema.js';
import { ENDPOINT_LIMITS, PAYLOAD_MODES } from '../../../config/webhook.config.js';
import type { TerminalStepStatus } from '../../../steps/step-status.js';
import { AttemptsSuccessView, DeliveryCountsView } from '../../deliveries/dto/delivery.view.js';
import { ENDPOINT_ID } from '../endpoint.js';
import { MASKED_HEADER_VALUE } from '../endpoint.presenter.js';
import { BREAKER_OPENS_AFTER } from '../endpoint-throttles.js';
import { DISABLED_REASONS } from '../entities/webhook-endpoint.entity.js';
import { TERMINAL_STATUSES } from './endpoint.dto.js';

/** An endpoint's circuit breaker (SPEC §9 "Isolation"), as every endpoint view shows it. */
export const EndpointBreakerView = namedView(
  'EndpointBreakerView',
  Type.Object({
    state: StringEnum(['closed', 'open'] as const, {
      description:
        `open after ${BREAKER_OPENS_AFTER} attempts in a row that timed out, could not connect or ` +
        'were answered 429 or 5xx: then one probe at a time (the first 1 s after opening, then ' +
        'after half as long as it has been open, 1 s to 30 s) until any other answer closes it. ' +
        'It never disables the endpoint; its deliveries wait as pending.',
    }),
    opened_at: Nullable(DateTime({ description: 'null while closed' })),
    unreachable_attempts: Type.Integer({
      minimum: 0,
      description:
        'Attempts in a row that timed out, could not connect or were answered 429 or 5xx; any ' +
        'other answer resets it',
    }),
    next_probe_at: Nullable(
      DateTime({ description: 'While open: when the next probe may start; null while closed' }),
    ),
  }),
);

const texts = () => Type.Optional(Type.Array(Type.String()));

const ENDPOINT_FIELDS = {
  id: Type.String({
    pattern: ENDPOINT_ID.pattern.source,
    example: 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
  }),
  url: Type.String({
    example: 'https://billing.example.com/hooks/steps',
    description: 'For env: STEP_COMPLETE_WEBHOOK without credentials or query',
  }),
  description: Nullable(Type.String()),
  filter: Nullable(
    Type.Object(
      {
        statuses: Type.Optional(Type.Array(StringEnum<TerminalStepStatus>(TERMINAL_STATUSES))),
        agent_ids: texts(),
        project_ids: texts(),
        run_ids: texts(),
        tags: texts(),
      },
      {
        description: 'Only the criteria given; null hears every step',
        additionalProperties: false,
      },
    ),
  ),
  payload: StringEnum(PAYLOAD_MODES),
  headers: Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    description:
      'Extra request headers, names lower-cased. Their values are secrets: shown in full only in ' +
      'the answer that set them (the 201 of the create, the 200 of a PATCH that sent headers); ' +
      `every other view shows each value as "${MASKED_HEADER_VALUE}". A create or PATCH that sends ` +
      'that mask as a value is refused (400): send the value itself, or leave headers out of a ' +
      'PATCH to keep them.',
    example: { authorization: MASKED_HEADER_VALUE },
  }),
  disabled: Type.Boolean(),
  disabled_reason: Nullable(StringEnum(DISABLED_REASONS)),
  max_in_flight: Type.Integer({
    minimum: ENDPOINT_LIMITS.maxInFlight.min,
    maximum: ENDPOINT_LIMITS.maxInFlight.max,
    description:
      'Attempts in flight at once, per delivering process. For env: STEP_COMPLETE_MAX_IN_FLIGHT',
  }),
  rate_limit: Nullable(
    Type.Number({
      minimum: ENDPOINT_LIMITS.rateLimit.min,
      maximum: ENDPOINT_LIMITS.rateLimit.max,
      description:
        'Attempts per second across every process; null: no limit. For env: STEP_COMPLETE_RATE_LIMIT',
    }),
  ),
  breaker: EndpointBreakerView,
  created_at: DateTime(),
  updated_at: DateTime(),
};

/** An endpoint as the API returns it (presentEndpoint); its secret only at creation and from `…/secret`. */
export const EndpointView = namedView('EndpointView', Type.Object(ENDPOINT_FIELDS));
export type EndpointJson = Static<typeof EndpointView>;

const SECRET_EXAMPLE = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** The answer to a create: the endpoint with its secret. */
export const CreatedEndpointView = namedView(
  'CreatedEndpointView',
  Type.Object({ ...ENDPOINT_FIELDS, secret: Type.String({ example: SECRET_EXAMPLE }) }),
);
export type CreatedEndpointJson = Static<typeof CreatedEndpointView>;

export const EndpointSecretView = namedView(
  'EndpointSecretView',
  Type.Object({
    secret: Type.String({
      example: SECRET_EXAMPLE,
      description: 'The newest secret: what a receiver verifies with',
    }),
  }),
);
export type EndpointSecretJson = Static<typeof EndpointSecretView>;

/** An endpoint's health, as the dashboard shows it. */
export const EndpointStatsView = namedView(
  'EndpointStatsView',
  Type.Object({
    endpoint_id: Type.String({ pattern: ENDPOINT_ID.pattern.source, example: 'env' }),
    counts: describedObject(DeliveryCountsView, { description: 'Its deliveries by state' }),
    last_24h: describedObject(AttemptsSuccessView, {
      description: 'Its attempts over the last 24 hours',
    }),
    last_failure: Nullable(
      Type.Object(
        { at: DateTime(), error: Nullable(Type.String()) },
        { description: 'The last failed attempt of the last 24 hours; null when none failed' },
      ),
    ),
  }),
);
export type EndpointStatsJson = Static<typeof EndpointStatsView>;
