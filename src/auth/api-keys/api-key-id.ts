import { randomBytes, randomUUID } from 'node:crypto';
import type { IdFormat } from '../../common/id-format.js';
import { KEY_PREFIX } from '../api-key.hook.js';

/** `key_` and 32 hex digits. */
export const API_KEY_ID: IdFormat = {
  pattern: /^key_[0-9a-f]{32}$/,
  description: 'an API key id ("key_" followed by 32 hex digits)',
};

export function newApiKeyId(): string {
  return `key_${randomUUID().replaceAll('-', '')}`;
}

/** `shk_` and 32 random bytes (256 bits) in base64url: 47 characters. */
export function newApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What lists show of a key: `shk_` and its first 8 characters of randomness. */
export function prefixOf(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 8);
}
