import { parseDeliveryConfig } from './delivery.config.js';

describe(parseDeliveryConfig.name, () => {
  it('defaults: no queue, this process delivers', () => {
    expect(parseDeliveryConfig({})).toEqual({ redisUrl: undefined, worker: true });
  });

  it('reads REDIS_URL with credentials and a database number, and DELIVERY_WORKER=off', () => {
    const config = parseDeliveryConfig({
      REDIS_URL: 'rediss://user:s3cret@redis.internal:6380/2',
      DELIVERY_WORKER: 'OFF',
    });
    expect(config.redisUrl?.href).toBe('rediss://user:s3cret@redis.internal:6380/2');
    expect(config.worker).toBe(false);
  });

  it.each([
    ['http://redis.internal:6379', 'REDIS_URL must be a redis:// or rediss:// URL'],
    ['not a url', 'REDIS_URL must be a redis:// or rediss:// URL'],
    ['redis://redis.internal:6379/queue', 'REDIS_URL may end only in a database number'],
  ])('refuses REDIS_URL=%s without echoing it', (value, message) => {
    let thrown: unknown;
    try {
      parseDeliveryConfig({ REDIS_URL: value });
    } catch (error) {
      thrown = error;
    }
    expect(String(thrown)).toContain(message);
    expect(String(thrown)).not.toContain(value);
  });

  it('refuses a DELIVERY_WORKER that is neither on nor off', () => {
    expect(() => parseDeliveryConfig({ DELIVERY_WORKER: 'sometimes' })).toThrow(
      'DELIVERY_WORKER must be one of on, off, got "sometimes"',
    );
  });
});
