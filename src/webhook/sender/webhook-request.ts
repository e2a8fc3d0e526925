import { createHmac } from 'node:crypto';
import { STEPHOOK_VERSION } from '../../common/version.js';

export interface WebhookHeaderInput {
  deliveryId: string;
  /** When this attempt starts. */
  attemptAt: Date;
  /** The exact bytes that will be sent. */
  body: string;
  /** STEP_COMPLETE_KEY, when set. */
  key: string | undefined;
  /** The decoded signing keys; one signature each (rotation). */
  signingSecrets: readonly Buffer[];
  /** An endpoint's own headers; never one of the contract's (the API refuses those). */
  extra?: Readonly<Record<string, string>>;
  /** The attempt's W3C trace context, while tracing is on: the receiver's trace continues it. */
  traceparent?: string;
}

/**
 * The headers of one attempt. WARNING: these are the public contract: the original's
 * Content-Type and optional Bearer key, plus Standard Webhooks' `webhook-id` (stable across
 * retries, for dedupe), `webhook-timestamp` (this attempt's unix seconds) and `webhook-signature`.
 */
export function buildWebhookHeaders(input: WebhookHeaderInput): Record<string, string> {
  const timestamp = String(Math.floor(input.attemptAt.getTime() / 1000));
  const headers: Record<string, string> = {
    ...input.extra,
    'content-type': 'application/json',
    'user-agent': `stephook/${STEPHOOK_VERSION}`,
    'webhook-id': input.deliveryId,
    'webhook-timestamp': timestamp,
  };
  if (input.key) headers.authorization = `Bearer ${input.key}`;
  if (input.traceparent) headers.traceparent = input.traceparent;
  if (input.signingSecrets.length > 0) {
    headers['webhook-signature'] = signWebhook(
      input.signingSecrets,
      input.deliveryId,
      timestamp,
      input.body,
    );
  }
  return headers;
}

/** `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>` per secret, space-separated. */
export function signWebhook(
  secrets: readonly Buffer[],
  id: string,
  timestamp: string,
  body: string,
): string {
  const content = `${id}.${timestamp}.${body}`;
  return secrets
    .map((secret) => `v1,${createHmac('sha256', secret).update(content).digest('base64')}`)
    .join(' ');
}
