import request from 'supertest';
import { TransactionRunner } from '../src/database/transaction-runner.js';
import { DeliveryStore } from '../src/webhook/delivery-store.js';
import { EndpointReconciler } from '../src/webhook/endpoints/endpoint-reconciler.js';
import { useWebhookTestbed } from './helpers/webhook-testbed.js';

/**
 * SPEC §9 "Nothing is stranded": whatever left a delivery out of step with its endpoint (an older
 * version, a manual edit, a fault), the reconciliation pass repairs it, and enabling again repairs
 * the endpoint's own.
 */
describe('Deliveries out of step with their endpoints (e2e)', () => {
  const bed = useWebhookTestbed();

  async function createEndpoint(body: Record<string, unknown>): Promise<string> {
    const response = await request(bed.app.server)
      .post('/v1/webhook-endpoints')
      .send(body)
      .expect(201);
    return (response.body as { id: string }).id;
  }

  /** A delivery written directly in the state given, as a fault could have left it; its id. */
  async function strayDelivery(endpointId: string, held: boolean, dueLater = false) {
    const step = await bed.steps.create();
    const store = bed.app.app.get(DeliveryStore);
    await bed.app.app
      .get(TransactionRunner)
      .run((manager) =>
        store.create(
          manager,
          { id: step.id, projectId: null },
          [{ endpointId, payload: `{"step_id":"${step.id}"}`, held }],
          new Date(),
        ),
      );
    const [row] = await bed.app.dataSource.query<{ id: string }[]>(
      'SELECT id FROM webhook_deliveries WHERE step_id = ?',
      [step.id],
    );
    // Not due yet: the scheduler leaves it to the reconciliation under test.
    if (dueLater) {
      await bed.app.dataSource.query(
        "UPDATE webhook_deliveries SET next_attempt_at = '2999-01-01T00:00:00.000Z' WHERE id = ?",
        [row.id],
      );
    }
    return row.id;
  }

  async function statusOf(id: string): Promise<{ status: string; last_error: string | null }> {
    const [row] = await bed.app.dataSource.query<{ status: string; last_error: string | null }[]>(
      'SELECT status, last_error FROM webhook_deliveries WHERE id = ?',
      [id],
    );
    return row;
  }

  it('releases held deliveries of enabled endpoints, holds pending ones of disabled ones, fails those of deleted ones', async () => {
    await bed.start({ STEP_COMPLETE_WEBHOOK: '', STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' });
    const enabled = await createEndpoint({ url: bed.receiver.url('/enabled') });
    const disabled = await createEndpoint({ url: bed.receiver.url('/disabled'), disabled: true });
    const deleted = await createEndpoint({ url: bed.receiver.url('/deleted') });

    const stranded = await strayDelivery(enabled, true);
    const pendingOfDisabled = await strayDelivery(disabled, false, true);
    const ofDeleted = await strayDelivery(deleted, true);
    await bed.app.dataSource.query('DELETE FROM webhook_endpoints WHERE id = ?', [deleted]);

    await expect(bed.app.app.get(EndpointReconciler).reconcile()).resolves.toEqual({
      released: 1,
      held: 1,
      failed: 1,
    });
    await bed.receiver.waitForRequests(1);
    expect(bed.receiver.requestsTo('/enabled')).toHaveLength(1);
    expect(bed.receiver.requests[0].headers['webhook-id']).toBe(stranded);
    expect(await statusOf(pendingOfDisabled)).toMatchObject({ status: 'held' });
    expect(await statusOf(ofDeleted)).toEqual({ status: 'failed', last_error: 'endpoint deleted' });
    await bed.app.logs.waitFor(
      (entry) =>
        entry.level === 'warn' && entry.message.includes('1 released (endpoint enabled), 1 held'),
      'the warning that says what was repaired',
    );
    // Nothing left to repair: a second pass finds nothing.
    await expect(bed.app.app.get(EndpointReconciler).reconcile()).resolves.toEqual({
      released: 0,
      held: 0,
      failed: 0,
    });
  });

  it('enabling an endpoint that is enabled already releases what it still held', async () => {
    await bed.start({ STEP_COMPLETE_WEBHOOK: '', STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/again') });
    const stranded = await strayDelivery(endpoint, true);

    await request(bed.app.server)
      .patch(`/v1/webhook-endpoints/${endpoint}`)
      .send({ disabled: false })
      .expect(200);
    await bed.receiver.waitForRequests(1);
    expect(bed.receiver.requests[0].headers['webhook-id']).toBe(stranded);
  });

  it('an attempt on the wire when its endpoint is deleted ends failed, even when it asked for a retry', async () => {
    await bed.start({ STEP_COMPLETE_WEBHOOK: '', STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' });
    const endpoint = await createEndpoint({ url: bed.receiver.url('/deleted-mid-attempt') });
    bed.receiver.replyWith({ hold: true });
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);
    await request(bed.app.server).delete(`/v1/webhook-endpoints/${endpoint}`).expect(204);
    bed.receiver.release(500); // a failure: the retry policy asks for another attempt
    const id = String(bed.receiver.requests[0].headers['webhook-id']);
    await bed.app.logs.waitFor(
      (entry) => entry.message.includes(id) && entry.message.includes('HTTP 500'),
      'the failed attempt to be recorded',
    );
    const [row] = await bed.app.dataSource.query<
      { status: string; next_attempt_at: string | null; attempt_count: number }[]
    >('SELECT status, next_attempt_at, attempt_count FROM webhook_deliveries WHERE id = ?', [id]);
    expect(row).toEqual({ status: 'failed', next_attempt_at: null, attempt_count: 1 });
  });

  it("a retry of a held delivery is a 409 that sends nothing; recover leaves deleted endpoints' deliveries failed", async () => {
    await bed.start({
      STEP_COMPLETE_WEBHOOK: '',
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
    const disabled = await createEndpoint({ url: bed.receiver.url('/disabled'), disabled: true });
    const held = await strayDelivery(disabled, true);
    const refused = await request(bed.app.server)
      .post(`/v1/webhook-deliveries/${held}/retry`)
      .expect(409);
    expect((refused.body as { message: string }).message).toContain('is disabled');
    expect(await statusOf(held)).toMatchObject({ status: 'held' });

    // A failed delivery of an endpoint that is then deleted: there is nothing to send it to.
    bed.receiver.replyWith({ status: 500 });
    const doomed = await createEndpoint({ url: bed.receiver.url('/doomed') });
    const since = new Date(Date.now() - 60_000).toISOString();
    const step = await bed.steps.create();
    await bed.steps.complete(step.id, 'success').expect(200);
    await bed.receiver.waitForRequests(1);
    const id = String(bed.receiver.requests[0].headers['webhook-id']);
    await bed.app.logs.waitFor(
      (entry) => entry.message.includes(id) && entry.message.includes('giving up'),
      'the delivery to fail',
    );
    await request(bed.app.server).delete(`/v1/webhook-endpoints/${doomed}`).expect(204);
    const recovered = await request(bed.app.server)
      .post('/v1/webhook-deliveries/recover')
      .send({ since })
      .expect(202);
    expect(recovered.body).toEqual({ requeued: 0 });
    expect(await statusOf(id)).toMatchObject({ status: 'failed' });
    expect(bed.receiver.requests).toHaveLength(1);
  });
});
