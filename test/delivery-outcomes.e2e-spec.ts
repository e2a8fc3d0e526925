import type { LogEntry, RecordedLevel } from './helpers/recording-logger.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

/** Each outcome of one attempt, through the whole app, with the log level the contract gives it. */
describe('Webhook attempt outcomes (e2e)', () => {
  const bed = useWebhookTestbed();

  async function completeOneStep(env: Record<string, string>): Promise<string> {
    await bed.start({ STEP_COMPLETE_WEBHOOK: '', STEP_COMPLETE_RETRY_SCHEDULE: 'none', ...env });
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.app.logs.waitFor((entry) => isAboutStep(entry, step.id));
    return step.id;
  }

  /** The webhook's own lines about the step (request logs also name it). */
  const isAboutStep = (entry: LogEntry, stepId: string) =>
    WEBHOOK_CONTEXTS.includes(entry.context ?? '') && entry.message.includes(stepId);
  const WEBHOOK_CONTEXTS = ['DeliveryDispatcher', 'DeliveryOutbox'];
  const levelsFor = (stepId: string): RecordedLevel[] =>
    bed.app.logs.entries.filter((entry) => isAboutStep(entry, stepId)).map((entry) => entry.level);
  const messageFor = (stepId: string): string =>
    bed.app.logs.entries.find((entry) => isAboutStep(entry, stepId))?.message ?? '';

  it('2xx without a key: exactly {"step_id"}, the contract headers, no Authorization, logged at info', async () => {
    const stepId = await completeOneStep({ STEP_COMPLETE_WEBHOOK: bed.receiver.url() });

    const [request] = bed.receiver.requests;
    expect(request.method).toBe('POST');
    expect(request.rawBody.toString('utf8')).toBe(`{"step_id":"${stepId}"}`);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^stephook\/\d+\.\d+\.\d+$/);
    expect(request.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(request.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(request.headers.authorization).toBeUndefined();
    expect(levelsFor(stepId)).toEqual(['log']);
  });

  it('2xx with a key: the key as a Bearer token, never in the logs', async () => {
    const key = 'k3y-that-must-stay-secret';
    const stepId = await completeOneStep({
      STEP_COMPLETE_WEBHOOK: bed.receiver.url(),
      STEP_COMPLETE_KEY: key,
    });

    expect(bed.receiver.requests[0].headers.authorization).toBe(`Bearer ${key}`);
    expect(bed.receiver.requests[0].rawBody.toString('utf8')).toBe(`{"step_id":"${stepId}"}`);
    expect(bed.app.logs.text()).not.toContain(key);
  });

  it('3xx: not followed, the target never called, logged at warn with the status', async () => {
    bed.receiver.replyWith({ status: 302, headers: { location: bed.receiver.url('/redirected') } });
    const stepId = await completeOneStep({ STEP_COMPLETE_WEBHOOK: bed.receiver.url() });

    expect(bed.receiver.requestsTo('/hook')).toHaveLength(1);
    expect(bed.receiver.requestsTo('/redirected')).toHaveLength(0);
    expect(levelsFor(stepId)).toEqual(['warn']);
    expect(messageFor(stepId)).toContain('HTTP 302');
  });

  it.each([404, 500])('%i: logged at warn with the status', async (status) => {
    bed.receiver.replyWith({ status });
    const stepId = await completeOneStep({ STEP_COMPLETE_WEBHOOK: bed.receiver.url() });

    expect(levelsFor(stepId)).toEqual(['warn']);
    expect(messageFor(stepId)).toContain(`HTTP ${status}`);
  });

  it('timeout: logged at warn', async () => {
    bed.receiver.replyWith({ hang: true });
    const stepId = await completeOneStep({
      STEP_COMPLETE_WEBHOOK: bed.receiver.url(),
      STEP_COMPLETE_TIMEOUT_MS: '200',
    });

    expect(levelsFor(stepId)).toEqual(['warn']);
    expect(messageFor(stepId)).toContain('timed out');
  });

  it('connection refused: logged at error', async () => {
    const closed = await WebhookReceiver.start();
    const url = closed.url();
    await closed.close();
    const stepId = await completeOneStep({ STEP_COMPLETE_WEBHOOK: url });

    expect(levelsFor(stepId)).toEqual(['error']);
    expect(messageFor(stepId)).toContain('ECONNREFUSED');
  });

  it('no URL: nothing sent, a debug line', async () => {
    const stepId = await completeOneStep({});

    expect(bed.receiver.requests).toHaveLength(0);
    expect(levelsFor(stepId)).toEqual(['debug']);
  });

  it('full payload: step_id first, then the event fields', async () => {
    const stepId = await completeOneStep({
      STEP_COMPLETE_WEBHOOK: bed.receiver.url(),
      STEP_COMPLETE_PAYLOAD: 'full',
    });

    const body = bed.receiver.requests[0].rawBody.toString('utf8');
    expect(body.startsWith(`{"step_id":"${stepId}",`)).toBe(true);
    expect(JSON.parse(body)).toEqual({
      step_id: stepId,
      type: 'step.completed',
      timestamp: expect.any(String),
      status: 'success',
      agent_id: null,
      run_id: null,
      stop_reason: null,
      completed_at: expect.any(String),
    });
  });
});
