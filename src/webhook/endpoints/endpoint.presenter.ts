import type { EndpointFilterDto } from './dto/endpoint.dto.js';
import { Endpoint, displayUrl } from './endpoint.js';
import type { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';

/** When this process read the environment: the environment endpoint's created/updated time. */
const ENVIRONMENT_READ_AT = new Date().toISOString();

/** An endpoint as clients see it; never its secrets. */
export function presentEndpoint(endpoint: WebhookEndpoint) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    filter: endpoint.filter ? (JSON.parse(endpoint.filter) as EndpointFilterDto) : null,
    payload: endpoint.payload,
    headers: JSON.parse(endpoint.headers) as Record<string, string>,
    disabled: endpoint.disabled,
    disabled_reason: endpoint.disabledReason as string | null,
    created_at: endpoint.createdAt,
    updated_at: endpoint.updatedAt,
  };
}
export type EndpointJson = ReturnType<typeof presentEndpoint>;

/** The environment endpoint: its URL without credentials or query, its key and secret unshown. */
export function presentEnvironmentEndpoint(endpoint: Endpoint): EndpointJson {
  return {
    id: endpoint.id,
    url: displayUrl(endpoint.url),
    description: 'STEP_COMPLETE_WEBHOOK (set by the environment)',
    filter: null,
    payload: endpoint.payload,
    headers: {},
    disabled: false,
    disabled_reason: null,
    created_at: ENVIRONMENT_READ_AT,
    updated_at: ENVIRONMENT_READ_AT,
  };
}
