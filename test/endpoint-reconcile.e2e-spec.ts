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
          step.id,
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
});
