import { HttpModule } from '@nestjs/axios';
import { Test } from '@nestjs/testing';
import { parseWebhookConfig } from '../../config/webhook.config.js';
import { WebhookReceiver } from '../../../test/helpers/webhook-receiver.js';
import { parseRetryAfter, RESPONSE_SNIPPET_BYTES, WebhookSender } from './webhook-sender.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';

describe(WebhookSender.name, () => {
  let receiver: WebhookReceiver;
  let sut: WebhookSender;
  const timeoutMs = 300;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    const moduleRef = await Test.createTestingModule({
      imports: [HttpModule],
      providers: [
        WebhookSender,
        {
          provide: WEBHOOK_CONFIG,
          useValue: parseWebhookConfig({ STEP_COMPLETE_TIMEOUT_MS: String(timeoutMs) }),
        },
      ],
    }).compile();
    sut = moduleRef.get(WebhookSender);
  });

  afterEach(async () => {
    sut.onApplicationShutdown();
    await receiver.close();
  });

  const post = (url = receiver.url()) =>
    sut.send({
      url: new URL(url),
      body: '{"step_id":"x"}',
      headers: { 'content-type': 'application/json' },
    });

  it('ends an attempt to a receiver that never answers at the deadline, as a timeout', async () => {
    receiver.replyWith({ hang: true });

    const result = await post();

    expect(result).toMatchObject({ outcome: 'timeout', statusCode: null });
    expect(result.durationMs).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(result.durationMs).toBeLessThan(timeoutMs + 2000);
  });

  it('keeps only the first 2 KiB of a large response body', async () => {
    receiver.replyWith({ status: 200, body: 'x'.repeat(100_000) });

    const result = await post();

    expect(result.outcome).toBe('success');
    expect(result.responseSnippet).toBe('x'.repeat(RESPONSE_SNIPPET_BYTES));
  });

  it('reports a refused connection as a network error', async () => {
    const closed = await WebhookReceiver.start();
    const url = closed.url();
    await closed.close();

    const result = await post(url);

    expect(result).toMatchObject({ outcome: 'network_error', statusCode: null });
    expect(result.error).toContain('ECONNREFUSED');
  });

  it('passes on the Retry-After header of a 503', async () => {
    receiver.replyWith({ status: 503, headers: { 'retry-after': '7' } });

    await expect(post()).resolves.toMatchObject({
      outcome: 'http_error',
      statusCode: 503,
      retryAfterMs: 7000,
    });
  });
});

describe(parseRetryAfter.name, () => {
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
