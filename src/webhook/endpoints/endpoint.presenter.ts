import type { PayloadMode } from '../../config/webhook.config.js';
import type { EndpointJson } from './dto/endpoint.view.js';
import { Endpoint, displayUrl } from './endpoint.js';
import type { BreakerView } from './endpoint-throttles.js';
import type { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';

export type { EndpointJson };

/** When this process read the environment: the environment endpoint's created/updated time. */
const ENVIRONMENT_READ_AT = new Date().toISOString();

/**
 * What every view shows in place of a header value (names are shown): the values are secrets like
 * the signing secret (an `authorization` header for the receiver). Fixed, so it tells nothing of
 * the value, not even its length.
 */
export const MASKED_HEADER_VALUE = '********';

/**
 * Whether a view shows header values: only the answer to the request that set them (the create,
 * a PATCH that sent `headers`); every other view masks them.
 */
export type HeaderValues = 'shown' | 'masked';

/**
 * An endpoint as clients see it (EndpointView), with its breaker (`readBreakers`); never its secrets, header
 * values only when `headerValues` says.
 */
export function presentEndpoint(
  endpoint: WebhookEndpoint,
  breaker: BreakerView,
  headerValues: HeaderValues = 'masked',
): EndpointJson {
  const headers = JSON.parse(endpoint.headers) as Record<string, string>;
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    filter: endpoint.filter ? (JSON.parse(endpoint.filter) as EndpointJson['filter']) : null,
    payload: endpoint.payload as PayloadMode,
    headers: headerValues === 'shown' ? headers : maskValues(headers),
    disabled: endpoint.disabled,
    disabled_reason: endpoint.disabledReason,
    max_in_flight: endpoint.maxInFlight,
    // PostgreSQL's driver may hand a double over as text.
    rate_limit: endpoint.rateLimit === null ? null : Number(endpoint.rateLimit),
    breaker,
    created_at: endpoint.createdAt,
    updated_at: endpoint.updatedAt,
  };
}

function maskValues(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((name) => [name, MASKED_HEADER_VALUE]));
}

/**
 * The names of `headers` whose value is the mask: a client that sent back what a view showed. It
 * is refused (400) rather than stored, so the mask never replaces a real value.
 */
export function maskedHeaderNames(headers: Record<string, string> | null | undefined): string[] {
  return Object.entries(headers ?? {})
    .filter(([, value]) => value === MASKED_HEADER_VALUE)
    .map(([name]) => name);
}

/**
 * The environment endpoint: its URL without credentials or query, its key and secret unshown, its
 * limits from STEP_COMPLETE_MAX_IN_FLIGHT and STEP_COMPLETE_RATE_LIMIT (the registry reads them).
 */
export function presentEnvironmentEndpoint(endpoint: Endpoint, breaker: BreakerView): EndpointJson {
  return {
    id: endpoint.id,
    url: displayUrl(endpoint.url),
    description: 'STEP_COMPLETE_WEBHOOK (set by the environment)',
    filter: null,
    payload: endpoint.payload,
    headers: {},
    disabled: false,
    disabled_reason: null,
    max_in_flight: endpoint.maxInFlight,
    rate_limit: endpoint.rateLimit,
    breaker,
    created_at: ENVIRONMENT_READ_AT,
    updated_at: ENVIRONMENT_READ_AT,
  };
}
