import { parseDatabaseUrl } from './database.config.js';
import {
  describeDatabase,
  describeDelivery,
  httpUrl,
  withoutCredentials,
} from './describe-config.js';

describe('describe-config', () => {
  it('shows a URL without user, password, query or fragment', () => {
    expect(
      withoutCredentials(new URL('https://user:s3cret@hooks.example.com:8443/in?token=t#x')),
    ).toBe('https://hooks.example.com:8443/in');
  });

  it.each([
    ['sqlite:data/stephook.sqlite', 'sqlite:data/stephook.sqlite'],
    ['sqlite::memory:', 'sqlite::memory:'],
    [
      'postgres://app:s3cret@db.internal:5432/stephook?sslpassword=s3cret',
      'postgres://db.internal:5432/stephook',
    ],
    ['postgresql://app:s3cret@[::1]/stephook', 'postgresql://[::1]/stephook'],
  ])('shows DATABASE_URL=%s as %s', (url, shown) => {
    expect(describeDatabase(parseDatabaseUrl(url))).toBe(shown);
  });

  it('puts an IPv6 listen address in brackets', () => {
    expect(httpUrl('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000');
    expect(httpUrl('::1', 3000)).toBe('http://[::1]:3000');
    expect(httpUrl('localhost', 80)).toBe('http://localhost:80');
  });

  it.each([
    [undefined, true, 'delivering here'],
    [
      'redis://:s3cret@redis.internal:6379/2',
      true,
      'delivering here through BullMQ on redis://redis.internal:6379/2',
    ],
    [
      undefined,
      false,
      'not delivering here (DELIVERY_WORKER=off: workers deliver from the database)',
    ],
    [
      'rediss://user:s3cret@redis.internal:6380',
      false,
      'not delivering here (DELIVERY_WORKER=off: workers deliver through BullMQ on rediss://redis.internal:6380)',
    ],
  ])('says who delivers: REDIS_URL=%s, worker %s', (redisUrl, worker, said) => {
    expect(describeDelivery({ redisUrl: redisUrl ? new URL(redisUrl) : undefined, worker })).toBe(
      said,
    );
  });
});
