import { ConfigValidationError } from './env.js';
import { parseWebhookConfig } from './webhook.config.js';

describe(parseWebhookConfig.name, () => {
  it('has the documented defaults', () => {
    const config = parseWebhookConfig({});
    expect(config.allowedNetworks.rules).toEqual([]);
    expect({ ...config, allowedNetworks: undefined }).toEqual({
      allowedNetworks: undefined,
      disableAfterMs: 5 * 86_400_000,
      url: undefined,
      key: undefined,
      signingSecrets: [],
      timeoutMs: 15_000,
      retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      concurrency: 64,
      payload: 'minimal',
      maxInFlight: 64,
      rateLimit: undefined,
    });
  });

  it('reads the environment endpoint’s limits: an integer in flight, a decimal rate', () => {
    expect(
      parseWebhookConfig({ STEP_COMPLETE_MAX_IN_FLIGHT: '1000', STEP_COMPLETE_RATE_LIMIT: '0.01' }),
    ).toMatchObject({ maxInFlight: 1000, rateLimit: 0.01 });
    expect(
      parseWebhookConfig({ STEP_COMPLETE_MAX_IN_FLIGHT: '1', STEP_COMPLETE_RATE_LIMIT: '10000' }),
    ).toMatchObject({ maxInFlight: 1, rateLimit: 10_000 });
    expect(parseWebhookConfig({ STEP_COMPLETE_RATE_LIMIT: '2.5' }).rateLimit).toBe(2.5);
  });

  it('reads a schedule in every unit, and "none" as no retries', () => {
    expect(
      parseWebhookConfig({ STEP_COMPLETE_RETRY_SCHEDULE: '250ms, 2s,1m,1h' }).retryScheduleMs,
    ).toEqual([250, 2_000, 60_000, 3_600_000]);
    expect(parseWebhookConfig({ STEP_COMPLETE_RETRY_SCHEDULE: 'none' }).retryScheduleMs).toEqual(
      [],
    );
  });

  it.each([
    ['STEP_COMPLETE_WEBHOOK', '127.0.0.1:8080/hook'],
    ['STEP_COMPLETE_WEBHOOK', 'localhost:8080/hook'],
    ['STEP_COMPLETE_WEBHOOK', 'ftp://example.test/hook'],
    ['STEP_COMPLETE_RETRY_SCHEDULE', '5s,soon'],
    ['STEP_COMPLETE_SECRET', 'not-a-whsec'],
    ['STEP_COMPLETE_KEY', 'hunter2ключ'],
    ['STEP_COMPLETE_KEY', 'hunter2\nX-Injected: yes'],
    ['STEP_COMPLETE_KEY', 'caf\u00e9'],
    ['STEP_COMPLETE_SECRET', 'whsec_A'],
    ['STEP_COMPLETE_SECRET', `whsec_${Buffer.alloc(23).toString('base64')}`],
    ['STEP_COMPLETE_SECRET', `whsec_${Buffer.alloc(65).toString('base64')}`],
    ['STEP_COMPLETE_TIMEOUT_MS', 'fast'],
    ['STEP_COMPLETE_CONCURRENCY', '0'],
    ['STEP_COMPLETE_PAYLOAD', 'everything'],
    ['STEP_COMPLETE_DISABLE_AFTER', 'a while'],
    ['STEP_COMPLETE_DISABLE_AFTER', '0s'],
    ['STEP_COMPLETE_ALLOWED_NETWORKS', '127.0.0.1'],
    ['STEP_COMPLETE_ALLOWED_NETWORKS', '10.0.0.0/33'],
    ['STEP_COMPLETE_ALLOWED_NETWORKS', 'localhost/8'],
    ['STEP_COMPLETE_MAX_IN_FLIGHT', '0'],
    ['STEP_COMPLETE_MAX_IN_FLIGHT', '1001'],
    ['STEP_COMPLETE_MAX_IN_FLIGHT', '1.5'],
    ['STEP_COMPLETE_MAX_IN_FLIGHT', 'many'],
    ['STEP_COMPLETE_RATE_LIMIT', '0'],
    ['STEP_COMPLETE_RATE_LIMIT', '0.001'],
    ['STEP_COMPLETE_RATE_LIMIT', '10000.5'],
    ['STEP_COMPLETE_RATE_LIMIT', '-1'],
    ['STEP_COMPLETE_RATE_LIMIT', '1e3'],
    ['STEP_COMPLETE_RATE_LIMIT', 'Infinity'],
    ['STEP_COMPLETE_RATE_LIMIT', '50/s'],
  ])('stops on a bad %s (%s) with a message naming the variable', (variable, value) => {
    const parse = () => parseWebhookConfig({ [variable]: value });
    expect(parse).toThrow(ConfigValidationError);
    expect(parse).toThrow(new RegExp(`^${variable} `));
  });

  it('reads STEP_COMPLETE_DISABLE_AFTER in days, and "never" as no automatic disabling', () => {
    expect(parseWebhookConfig({ STEP_COMPLETE_DISABLE_AFTER: '2d' }).disableAfterMs).toBe(
      172_800_000,
    );
    expect(parseWebhookConfig({ STEP_COMPLETE_DISABLE_AFTER: 'never' }).disableAfterMs).toBeNull();
  });

  it('reads STEP_COMPLETE_ALLOWED_NETWORKS as the ranges it names, IPv4 and IPv6', () => {
    const allowed = parseWebhookConfig({
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8, fd00::/8',
    }).allowedNetworks;
    expect(allowed.check('127.1.2.3', 'ipv4')).toBe(true);
    expect(allowed.check('10.0.0.1', 'ipv4')).toBe(false);
    expect(allowed.check('fd12::1', 'ipv6')).toBe(true);
    expect(allowed.check('::1', 'ipv6')).toBe(false);
  });

  it('never repeats a URL, which may carry credentials, in its error', () => {
    expect(() =>
      parseWebhookConfig({ STEP_COMPLETE_WEBHOOK: 'ftp://user:hunter2@example.test' }),
    ).toThrow(/^STEP_COMPLETE_WEBHOOK must be an absolute http/);
    try {
      parseWebhookConfig({ STEP_COMPLETE_WEBHOOK: 'ftp://user:hunter2@example.test' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
