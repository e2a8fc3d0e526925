import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { EntityManager } from 'typeorm';
import { STEP_COMPLETED, StepCompletedEvent } from '../../steps/events/step-completed.event.js';
import type { StepCompletionOutbox } from '../../steps/step-completion-outbox.js';
import { DeliveryStore } from '../delivery-store.js';
import { DeliveryTrigger } from '../dispatch/delivery-trigger.js';
import { ENV_ENDPOINT_ID } from '../endpoints/endpoint.js';
import { readEndpointStates } from '../endpoints/endpoint-locks.js';
import { EndpointRegistry } from '../endpoints/endpoint-registry.js';
import { startMessageSpan, traceparentOf, w3cTraceId } from '../../tracing/tracing.js';
import { buildWebhookBody } from './webhook-payload.js';

/**
 * The transactional outbox, where a completed step becomes webhook deliveries: StepsModule's
 * StepCompletionOutbox port, provided by WebhookModule. Called by StepsService inside the
 * transition's transaction, it writes one delivery per endpoint whose filter matches (matched in
 * memory, `EndpointRegistry`) with the status, so a crash after the commit cannot lose one. Whether
 * each is `pending` or `held`, and whether its endpoint still exists, is read from the endpoint's
 * committed row under a lock (`endpoint-locks.ts`), never from memory, so no change to an endpoint
 * can strand a delivery. After the commit it hands the step to the `DeliveryTrigger`, which starts
 * the first attempt (here or through the queue). If that start is lost, the delivery still waits in
 * the database for the scheduler or the queue's sweep.
 */
@Injectable()
export class DeliveryOutbox implements StepCompletionOutbox {
  private readonly logger = new Logger(DeliveryOutbox.name);

  constructor(
    private readonly endpoints: EndpointRegistry,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
  ) {}

  async recordCompletion(event: StepCompletedEvent, manager: EntityManager): Promise<void> {
    const matching = this.endpoints.matching(event);
    if (matching.length === 0) return;
    const states = await readEndpointStates(
      manager,
      matching.filter((endpoint) => endpoint.id !== ENV_ENDPOINT_ID).map((endpoint) => endpoint.id),
    );
    const endpoints = matching.filter(
      (endpoint) => endpoint.id === ENV_ENDPOINT_ID || states.has(endpoint.id),
    );
    if (endpoints.length === 0) return;
    const now = new Date();
    // With tracing on: the span the attempts continue, in the agent's trace when the step names one.
    const span = startMessageSpan('create step.completed', w3cTraceId(event.traceId), {
      'stephook.step.id': event.stepId,
      'stephook.step.status': event.status,
      'stephook.endpoint.count': endpoints.length,
    });
    try {
      await this.store.create(
        manager,
        { id: event.stepId, projectId: event.projectId },
        endpoints.map((endpoint) => ({
          endpointId: endpoint.id,
          payload: buildWebhookBody(event, endpoint.payload, now),
          held: states.get(endpoint.id)?.disabled ?? false,
        })),
        now,
        span ? traceparentOf(span) : null,
      );
    } finally {
      span?.end();
    }
  }

  /** `async`: runs after the emitting call returns, so the step never waits for its webhook. */
  @OnEvent(STEP_COMPLETED, { async: true, promisify: true })
  async startDelivery(event: StepCompletedEvent): Promise<void> {
    if (this.endpoints.all.length === 0) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty and no endpoint ` +
          'is set up, so no webhook is sent',
        { step_id: event.stepId },
      );
      return;
    }
    try {
      await this.trigger.stepCommitted(event.stepId);
    } catch (error) {
      this.logger.warn(
        `Could not start the webhook for step ${event.stepId} right away (${String(error)}); ` +
          'its delivery waits in the database, where the scheduler or the queue sweep finds it',
        { step_id: event.stepId },
      );
    }
  }
}
