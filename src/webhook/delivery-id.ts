import { randomUUID } from 'node:crypto';
import type { IdFormat } from '../common/id-format.js';

/** `msg_` and 32 hex digits: the delivery id, sent as `webhook-id`. */
export const DELIVERY_ID: IdFormat = {
  pattern: /^msg_[0-9a-f]{32}$/,
  description: 'a delivery id ("msg_" followed by 32 hex digits)',
};

export function newDeliveryId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}
