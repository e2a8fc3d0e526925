import { randomBytes } from 'node:crypto';
import type { IdFormat } from '../common/id-format.js';

/** `msg_` and 32 hex digits: the delivery id, sent as `webhook-id`. */
export const DELIVERY_ID: IdFormat = {
  pattern: /^msg_[0-9a-f]{32}$/,
  description: 'a delivery id ("msg_" followed by 32 hex digits)',
};

/**
 * `msg_`, the creation time in ms (12 hex digits), then 80 random bits. Ids that grow with time
 * are added at the right edge of the primary-key index, so a transition that writes ten
 * deliveries dirties one index page, not ten scattered ones (a tenth of the WAL it writes); the
 * random part keeps them unguessable and unique.
 */
export function newDeliveryId(now = Date.now()): string {
  return `msg_${now.toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
}
