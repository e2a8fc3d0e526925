import { ConfigValidationError, Env, readChoice, readUrl } from './env.js';

/** Where delivery attempts come from and who runs them. */
export interface DeliveryConfig {
  /**
   * BullMQ on this Redis carries delivery work between processes; absent, each process finds its
   * work in the database itself. Holds credentials: never logged.
   */
  readonly redisUrl: URL | undefined;
  /** Whether this process makes delivery attempts (API processes may leave them to workers). */
  readonly worker: boolean;
}

/** `redis://` or `rediss://`, or undefined when unset. The value is never echoed. */
function readRedisUrl(env: Env, name: string): URL | undefined {
  const url = readUrl(env, name, ['redis:', 'rediss:'], 'a redis:// or rediss:// URL');
  if (url && url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) {
    throw new ConfigValidationError(
      name,
      'may end only in a database number, as in redis://host:6379/0',
    );
  }
  return url;
}

export function parseDeliveryConfig(env: Env): DeliveryConfig {
  return {
    redisUrl: readRedisUrl(env, 'REDIS_URL'),
    worker: readChoice(env, 'DELIVERY_WORKER', ['on', 'off'] as const, 'on') === 'on',
  };
}
