import { STEPHOOK_VERSION } from '../common/version.js';

export interface WebhookHeaderInput {
  deliveryId: string;
  /** When this attempt starts. */
  attemptAt: Date;
  /** STEP_COMPLETE_KEY, when set. */
  key: string | undefined;
}

/**
 * The headers of one attempt. WARNING: these are the public contract: the original's
 * Content-Type and optional Bearer key, plus the Standard Webhooks `webhook-id` (stable across
 * retries, for dedupe) and `webhook-timestamp` (this attempt's unix seconds).
 */
export function buildWebhookHeaders(input: WebhookHeaderInput): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': `stephook/${STEPHOOK_VERSION}`,
    'webhook-id': input.deliveryId,
    'webhook-timestamp': String(Math.floor(input.attemptAt.getTime() / 1000)),
  };
  if (input.key) headers.authorization = `Bearer ${input.key}`;
  return headers;
}
