import { HttpModule } from '@nestjs/axios';
import { Test, TestingModule } from '@nestjs/testing';
import type { Env } from '../config/env.js';
import { parseWebhookConfig, webhookConfig } from '../config/webhook.config.js';
import { StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { RecordedLevel, RecordingLogger } from '../../test/helpers/recording-logger.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { WebhookSender } from './webhook-sender.js';

const STEP_ID = 'step-7b0c2a54-3f4e-4d6a-9c1b-2e8f5a6d7c90';
const event = new StepCompletedEvent(
  STEP_ID,
  'success',
  'agent-1',
  'run-1',
  'end_turn',
  new Date().toISOString(),
);

describe(DeliveryDispatcher.name, () => {
  let receiver: WebhookReceiver;
  let moduleRef: TestingModule;
  let logs: RecordingLogger;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
  });

  afterEach(async () => {
    await moduleRef.close();
    await receiver.close();
  });

  async function dispatcherWith(env: Env): Promise<DeliveryDispatcher> {
    moduleRef = await Test.createTestingModule({
      imports: [HttpModule],
      providers: [
        DeliveryDispatcher,
        WebhookSender,
        { provide: webhookConfig.KEY, useValue: parseWebhookConfig(env) },
      ],
    }).compile();
    logs = new RecordingLogger();
    moduleRef.useLogger(logs);
    return moduleRef.get(DeliveryDispatcher);
  }

  const levelsOfStepLines = (): RecordedLevel[] =>
    logs.entries.filter((entry) => entry.message.includes(STEP_ID)).map((entry) => entry.level);

  it('posts exactly {"step_id"} with the contract headers and no Authorization when no key is set, logging at info', async () => {
    const sut = await dispatcherWith({ STEP_COMPLETE_WEBHOOK: receiver.url() });

    await sut.dispatch(event);

    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request.method).toBe('POST');
    expect(request.rawBody.toString('utf8')).toBe(`{"step_id":"${STEP_ID}"}`);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^stephook\/\d+\.\d+\.\d+/);
    expect(request.headers.authorization).toBeUndefined();
    expect(levelsOfStepLines()).toEqual(['log']);
  });

  it('sends the key as a Bearer token when STEP_COMPLETE_KEY is set, and never logs it', async () => {
    const key = 'k3y-that-must-stay-secret';
    const sut = await dispatcherWith({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_KEY: key,
    });

    await sut.dispatch(event);

    expect(receiver.requests[0].headers.authorization).toBe(`Bearer ${key}`);
    expect(receiver.requests[0].rawBody.toString('utf8')).toBe(`{"step_id":"${STEP_ID}"}`);
    expect(logs.text()).not.toContain(key);
  });

  it('does not follow a redirect: a 3xx is a failure logged at warn, and the target is never called', async () => {
    receiver.replyWith({ status: 302, headers: { location: receiver.url('/redirected') } });
    const sut = await dispatcherWith({ STEP_COMPLETE_WEBHOOK: receiver.url() });

    await sut.dispatch(event);

    expect(receiver.requestsTo('/hook')).toHaveLength(1);
    expect(receiver.requestsTo('/redirected')).toHaveLength(0);
    expect(levelsOfStepLines()).toEqual(['warn']);
    expect(logs.entries.find((entry) => entry.level === 'warn')?.message).toContain('HTTP 302');
  });

  it.each([404, 500])('logs a %i answer at warn with its status code', async (status) => {
    receiver.replyWith({ status });
    const sut = await dispatcherWith({ STEP_COMPLETE_WEBHOOK: receiver.url() });

    await sut.dispatch(event);

    expect(levelsOfStepLines()).toEqual(['warn']);
    expect(logs.entries.find((entry) => entry.level === 'warn')?.message).toContain(
      `HTTP ${status}`,
    );
  });

  it('logs a timeout at warn', async () => {
    receiver.replyWith({ hang: true });
    const sut = await dispatcherWith({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_TIMEOUT_MS: '200',
    });

    await sut.dispatch(event);

    expect(levelsOfStepLines()).toEqual(['warn']);
    expect(logs.entries.find((entry) => entry.level === 'warn')?.message).toContain('timed out');
  });

  it('logs a refused connection at error', async () => {
    const closed = await WebhookReceiver.start();
    const url = closed.url();
    await closed.close();
    const sut = await dispatcherWith({ STEP_COMPLETE_WEBHOOK: url });

    await sut.dispatch(event);

    expect(levelsOfStepLines()).toEqual(['error']);
    expect(logs.entries.find((entry) => entry.level === 'error')?.message).toContain(
      'ECONNREFUSED',
    );
  });

  it('sends nothing and logs at debug when no webhook URL is configured', async () => {
    const sut = await dispatcherWith({});

    await sut.dispatch(event);

    expect(receiver.requests).toHaveLength(0);
    expect(levelsOfStepLines()).toEqual(['debug']);
  });

  it('sends the full payload with step_id first when STEP_COMPLETE_PAYLOAD=full', async () => {
    const sut = await dispatcherWith({
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_PAYLOAD: 'full',
    });

    await sut.dispatch(event);

    const body = receiver.requests[0].rawBody.toString('utf8');
    expect(body.startsWith(`{"step_id":"${STEP_ID}",`)).toBe(true);
    expect(JSON.parse(body)).toEqual({
      step_id: STEP_ID,
      type: 'step.completed',
      timestamp: expect.any(String),
      status: 'success',
      agent_id: 'agent-1',
      run_id: 'run-1',
      stop_reason: 'end_turn',
      completed_at: event.completedAt,
    });
  });
});
