import type { ConnectionOptions } from 'bullmq';

/** REDIS_URL (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS) as ioredis options. */
export function redisConnection(url: URL): ConnectionOptions {
  const db = url.pathname.replace('/', '');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: db ? Number(db) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}
