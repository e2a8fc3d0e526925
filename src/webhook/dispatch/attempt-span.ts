import type { Span } from '@opentelemetry/api';
import { failed, startClientSpan } from '../../tracing/tracing.js';
import { displayUrl, Endpoint } from '../endpoints/endpoint.js';
import type { WebhookDelivery } from '../entities/webhook-delivery.entity.js';
import type { AttemptResult } from '../sender/webhook-sender.js';

/**
 * The client span of one attempt (OpenTelemetry HTTP client conventions, plus stephook's own
 * attributes), a child of the span that created the delivery; null while tracing is off. The URL
 * is shown without credentials or query, as everywhere else.
 */
export function startAttemptSpan(delivery: WebhookDelivery, endpoint: Endpoint): Span | null {
  return startClientSpan('POST', delivery.traceParent, {
    'http.request.method': 'POST',
    'url.full': displayUrl(endpoint.url),
    'server.address': endpoint.url.hostname,
    'server.port': Number(endpoint.url.port) || (endpoint.url.protocol === 'https:' ? 443 : 80),
    ...(delivery.attemptCount > 0 ? { 'http.request.resend_count': delivery.attemptCount } : {}),
    'stephook.delivery.id': delivery.id,
    'stephook.delivery.attempt': delivery.attemptCount + 1,
    'stephook.step.id': delivery.stepId,
    'stephook.endpoint.id': endpoint.id,
  });
}

/** Records what came of the attempt (or that it could not be made) and ends its span. */
export function endAttemptSpan(span: Span, result: AttemptResult | null, error?: unknown): void {
  if (result) {
    span.setAttribute('stephook.delivery.outcome', result.outcome);
    if (result.statusCode !== null) {
      span.setAttribute('http.response.status_code', result.statusCode);
    }
    if (result.outcome !== 'success') {
      span.setAttribute(
        'error.type',
        result.statusCode !== null ? String(result.statusCode) : result.outcome,
      );
      failed(span, result.error ?? result.outcome);
    }
  } else {
    failed(span, error);
  }
  span.end();
}
