import { Ajv } from 'ajv';
import { Type } from 'typebox';
import type { TSchema } from 'typebox';
import { StepMetricsSchema } from '../steps/dto/step-metrics.dto.js';
import { StepView } from '../steps/dto/step.view.js';
import { Step } from '../steps/entities/step.entity.js';
import { presentStep } from '../steps/step.presenter.js';
import {
  DeliverySummaryView,
  DeliveryWithAttemptsView,
} from '../webhook/deliveries/dto/delivery.view.js';
import { presentDeliveryWithAttempts } from '../webhook/deliveries/delivery.presenter.js';
import { DeliveryAttempt } from '../webhook/entities/delivery-attempt.entity.js';
import { WebhookDelivery } from '../webhook/entities/webhook-delivery.entity.js';
import { EndpointStatsView, EndpointView } from '../webhook/endpoints/dto/endpoint.view.js';
import { presentEndpoint } from '../webhook/endpoints/endpoint.presenter.js';
import { CLOSED_BREAKER } from '../webhook/endpoints/endpoint-throttles.js';
import { WebhookEndpoint } from '../webhook/endpoints/entities/webhook-endpoint.entity.js';
import { toOpenApi } from './request-schema.js';
import { answerOf, listOf, Nullable, responseComponents } from './response-schema.js';

const AT = '2026-12-07T01:00:00.000Z';

function step(fields: Partial<Step> = {}): Step {
  return Object.assign(new Step(), {
    id: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
    status: 'failed',
    agentId: 'agent-1',
    runId: null,
    projectId: null,
    origin: null,
    providerName: null,
    providerCategory: null,
    model: null,
    modelEndpoint: null,
    contextWindowLimit: 128_000,
    traceId: null,
    requestId: null,
    tags: ['billing'],
    promptTokens: 1,
    completionTokens: 2,
    totalTokens: 3,
    cachedInputTokens: null,
    cacheWriteTokens: null,
    reasoningTokens: null,
    promptTokensDetails: { cached_tokens: 1, big: '12345678901234567890', toString: 'x' },
    completionTokensDetails: null,
    stopReason: 'error',
    errorType: 'ToolError',
    errorData: { message: 'm', traceback: null, details: { nested: [1, { a: null }] } },
    feedback: null,
    createdAt: AT,
    updatedAt: AT,
    completedAt: AT,
    ...fields,
  });
}

/** Checks values against a view's own schema (JSON Schema, `T | null` as a null branch). */
const ajv = new Ajv({ strict: true, allErrors: true });
ajv.addVocabulary(['example']);
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

/** Why `value` is not what `view` says (its keys, in its order, and their values), or null. */
function mismatch(view: TSchema, value: object): string | null {
  const keys = Object.keys((view as { properties: object }).properties);
  if (Object.keys(value).join() !== keys.join()) return `keys ${Object.keys(value).join()}`;
  const validate = ajv.compile(view);
  return validate(value) ? null : ajv.errorsText(validate.errors);
}

describe('response schemas', () => {
  it('type what the presenters build, key for key and in order, and can tell when they do not', () => {
    expect(mismatch(StepView, presentStep(step()))).toBeNull();
    expect(mismatch(StepView, presentStep(step({ errorData: null, stopReason: null })))).toBeNull();
    const delivery = Object.assign(new WebhookDelivery(), {
      id: 'msg_2b1e0c9d4f6a4e0f8a7b6c5d4e3f2a1b',
      stepId: 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c',
      endpointId: 'env',
      status: 'failed',
      attemptCount: 1,
      nextAttemptAt: null,
      lastOutcome: 'http_error',
      lastStatusCode: 503,
      lastError: 'HTTP 503',
      createdAt: AT,
      updatedAt: AT,
      deliveredAt: null,
      attempts: [
        Object.assign(new DeliveryAttempt(), {
          number: 1,
          startedAt: AT,
          durationMs: 12,
          statusCode: 503,
          outcome: 'http_error',
          error: 'HTTP 503',
          responseBody: null,
        }),
      ],
    });
    expect(mismatch(DeliveryWithAttemptsView, presentDeliveryWithAttempts(delivery))).toBeNull();
    const endpoint = Object.assign(new WebhookEndpoint(), {
      id: 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      url: 'https://billing.example.com/hooks/steps',
      description: null,
      filter: JSON.stringify({ statuses: ['failed'] }),
      payload: 'minimal',
      headers: JSON.stringify({ authorization: 'Bearer t' }),
      disabled: false,
      disabledReason: null,
      maxInFlight: 16,
      rateLimit: null,
      createdAt: AT,
      updatedAt: AT,
    });
    expect(mismatch(EndpointView, presentEndpoint(endpoint, CLOSED_BREAKER))).toBeNull();
    // The check fails on a wrong value, a missing key and an extra one.
    expect(mismatch(StepView, { ...presentStep(step()), status: 'done' })).toMatch(/status/);
    const { tags: _tags, ...withoutTags } = presentStep(step());
    expect(mismatch(StepView, withoutTags)).toMatch(/^keys/);
    expect(mismatch(StepView, { ...presentStep(step()), extra: 1 })).toMatch(/^keys/);
  });

  it('are stated in OpenAPI 3.0: T | null as T, nullable; a named view as a $ref', () => {
    const step = responseComponents().StepView as {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(step.properties.agent_id).toEqual({
      type: 'string',
      example: 'agent-1',
      nullable: true,
    });
    expect(step.properties.stop_reason).toMatchObject({ type: 'string', nullable: true });
    expect(step.properties.prompt_tokens_details).toEqual({
      type: 'object',
      additionalProperties: true,
      nullable: true,
    });
    expect(JSON.stringify(step)).not.toMatch(/anyOf|"null"/);
    const withAttempts = toOpenApi(DeliveryWithAttemptsView) as {
      properties: Record<string, unknown>;
    };
    expect(withAttempts.properties.attempts).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/DeliveryAttemptView' },
    });
    const stats = toOpenApi(EndpointStatsView) as { properties: Record<string, unknown> };
    expect(stats.properties.counts).toEqual({
      description: 'Its deliveries by state',
      allOf: [{ $ref: '#/components/schemas/DeliveryCountsView' }],
    });
    const summary = toOpenApi(DeliverySummaryView) as { properties: Record<string, unknown> };
    expect(summary.properties.last_hour).toEqual({
      $ref: '#/components/schemas/AttemptsSuccessView',
    });
    // A nullable named view is a nullable allOf (refineApiDocument makes null a branch of its own).
    expect(toOpenApi(Type.Object({ a: Nullable(DeliverySummaryView) }))).toMatchObject({
      properties: {
        a: { nullable: true, allOf: [{ $ref: '#/components/schemas/DeliverySummaryView' }] },
      },
    });
  });

  it('leaves a request schema with more than one branch besides null as it was', () => {
    const nanos = (toOpenApi(StepMetricsSchema) as { properties: Record<string, unknown> })
      .properties.step_ns as { oneOf: unknown[]; nullable: boolean };
    expect(nanos.nullable).toBe(true);
    expect(nanos.oneOf).toHaveLength(2);
  });

  it('documents answers by reference, and only named views', () => {
    expect(answerOf(StepView)).toEqual({ schema: { $ref: '#/components/schemas/StepView' } });
    expect(listOf(StepView)).toEqual({
      schema: { type: 'array', items: { $ref: '#/components/schemas/StepView' } },
    });
    expect(() => answerOf(Type.Object({}))).toThrow(/named view/);
  });
});
