import { EventEmitter2 } from '@nestjs/event-emitter';
import request from 'supertest';
import { StepMetrics } from '../src/steps/entities/step-metrics.entity.js';
import { Step } from '../src/steps/entities/step.entity.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../src/steps/events/step-completed.event.js';
import { STEP_ID_PATTERN } from '../src/steps/step-id.js';
import type { StepJson } from '../src/steps/step.presenter.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

const GIVEN_ID = 'step-3f1d2c4b-5a6e-4f70-8b9c-0d1e2f3a4b5c';

describe('Steps API (e2e)', () => {
  let t: TestApp;
  let api: StepsApi;
  let events: StepCompletedEvent[];

  beforeEach(async () => {
    t = await createTestApp();
    api = new StepsApi(t.server);
    events = [];
    t.app.get(EventEmitter2).on(STEP_COMPLETED, (event: StepCompletedEvent) => events.push(event));
  });

  afterEach(() => t.close());

  describe('POST /v1/steps', () => {
    it('creates a pending step with a generated step-<uuid v4> id and stores it', async () => {
      const step = await api.create({
        agent_id: 'agent-1',
        run_id: 'run-1',
        model: 'gpt-4o',
        tags: ['a'],
        prompt_tokens: 5,
      });

      expect(step.id).toMatch(STEP_ID_PATTERN);
      expect(step).toMatchObject({
        status: 'pending',
        agent_id: 'agent-1',
        tags: ['a'],
        prompt_tokens: 5,
        completion_tokens: 0,
        reasoning_tokens: null,
        completed_at: null,
        error_data: null,
      });
      expect(new Date(step.created_at).toISOString()).toBe(step.created_at);
      await expect(t.dataSource.getRepository(Step).countBy({ id: step.id })).resolves.toBe(1);
    });

    it('uses the id the client gives, and answers 409 when it exists', async () => {
      await api.create({ id: GIVEN_ID });
      const conflict = await request(t.server)
        .post('/v1/steps')
        .send({ id: GIVEN_ID, agent_id: 'other' });

      expect(conflict.status).toBe(409);
      expect(conflict.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      const stored = await t.dataSource.getRepository(Step).findOneByOrFail({ id: GIVEN_ID });
      expect(stored.agentId).toBeNull();
    });
  });

  describe('GET /v1/steps/:step_id', () => {
    it('returns the step, 404 for an unknown id, 400 for a malformed one', async () => {
      const step = await api.create();
      await request(t.server).get(`/v1/steps/${step.id}`).expect(200, step);
      const missing = await request(t.server).get(`/v1/steps/${GIVEN_ID}`).expect(404);
      expect(missing.body).toEqual({
        statusCode: 404,
        message: expect.stringContaining(GIVEN_ID),
        error: 'Not Found',
      });
      for (const bad of [
        'nope',
        'step-123',
        GIVEN_ID.toUpperCase(),
        'step-3f1d2c4b-5a6e-1f70-8b9c-0d1e2f3a4b5c',
      ]) {
        const response = await request(t.server).get(`/v1/steps/${bad}`).expect(400);
        expect(response.body.message).toContain('step_id');
      }
    });
  });

  describe('terminal transitions', () => {
    it('success records usage, stop reason and metrics, sets completed_at, and emits one event', async () => {
      const step = await api.create({ agent_id: 'agent-1', run_id: 'run-1' });
      const body =
        '{"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,"reasoning_tokens":7,' +
        '"prompt_tokens_details":{"cached_tokens":100}},"stop_reason":"end_turn",' +
        '"metrics":{"step_ns":9223372036854775807,"llm_request_ns":"1234567890123456789","tool_execution_ns":42}}';

      const response = await request(t.server)
        .post(`/v1/steps/${step.id}/success`)
        .set('content-type', 'application/json')
        .send(body)
        .expect(200);

      expect(response.body).toMatchObject({
        status: 'success',
        prompt_tokens: 120,
        completion_tokens: 30,
        total_tokens: 150,
        reasoning_tokens: 7,
        prompt_tokens_details: { cached_tokens: 100 },
        stop_reason: 'end_turn',
      });
      expect(response.body.completed_at).toEqual(expect.any(String));
      expect(events).toEqual([
        new StepCompletedEvent(
          step.id,
          'success',
          'agent-1',
          'run-1',
          null,
          [],
          'end_turn',
          response.body.completed_at,
        ),
      ]);
      const metrics = await request(t.server).get(`/v1/steps/${step.id}/metrics`).expect(200);
      expect(metrics.body).toMatchObject({
        id: step.id,
        step_ns: '9223372036854775807',
        llm_request_ns: '1234567890123456789',
        tool_execution_ns: '42',
        step_start_ns: null,
      });
    });

    it('error records error_type and error_data', async () => {
      const step = await api.create();
      const response = await api
        .complete(step.id, 'failed', {
          error_type: 'ToolError',
          error_message: 'tool crashed',
          error_traceback: 'Traceback…',
          error_details: { tool: 'search' },
          stop_reason: 'error',
        })
        .expect(200);

      expect(response.body).toMatchObject({
        status: 'failed',
        error_type: 'ToolError',
        error_data: {
          message: 'tool crashed',
          traceback: 'Traceback…',
          details: { tool: 'search' },
        },
        stop_reason: 'error',
      });
      expect(events.map((event) => event.status)).toEqual(['failed']);
    });

    it('cancel works with no body at all', async () => {
      const step = await api.create();
      const response = await request(t.server).post(`/v1/steps/${step.id}/cancel`).expect(200);
      expect(response.body).toMatchObject({ status: 'cancelled', stop_reason: null });
      expect(events).toHaveLength(1);
    });

    it('answers a repeated terminal call with the step unchanged and emits nothing more', async () => {
      const step = await api.create();
      const first = await api.complete(step.id, 'success', { stop_reason: 'end_turn' }).expect(200);
      const again = await api
        .complete(step.id, 'success', { stop_reason: 'max_steps' })
        .expect(200);

      expect(again.body).toEqual(first.body);
      expect(events).toHaveLength(1);
    });

    it('refuses a different terminal status with 409 and leaves the step as it was', async () => {
      const step = await api.create();
      const done = await api.complete(step.id, 'cancelled').expect(200);

      for (const status of ['success', 'failed'] as const) {
        const conflict = await api.complete(step.id, status).expect(409);
        expect(conflict.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      }
      await request(t.server).get(`/v1/steps/${step.id}`).expect(200, done.body);
      expect(events).toHaveLength(1);
    });

    it('answers 404 for an unknown step and writes nothing', async () => {
      await api.complete(GIVEN_ID, 'success', { metrics: { step_ns: 1 } }).expect(404);
      await expect(t.dataSource.getRepository(StepMetrics).count()).resolves.toBe(0);
      expect(events).toHaveLength(0);
    });

    it('lets exactly one of 50 concurrent mixed terminal calls win', async () => {
      const step = await api.create();
      const statuses = Array.from(
        { length: 50 },
        (_, i) => (['success', 'failed', 'cancelled'] as const)[i % 3],
      );

      const responses = await Promise.all(statuses.map((status) => api.complete(step.id, status)));

      expect(events).toHaveLength(1);
      const winner = events[0].status;
      responses.forEach((response, i) => {
        expect(response.status).toBe(statuses[i] === winner ? 200 : 409);
      });
      const stored = await t.dataSource.getRepository(Step).findOneByOrFail({ id: step.id });
      expect(stored.status).toBe(winner);
    });
  });

  describe('PATCH /v1/steps/:step_id/feedback', () => {
    it('sets feedback and replaces tags when given, clears it with null, and requires the field', async () => {
      const step = await api.create({ tags: ['old'] });
      const positive = await request(t.server)
        .patch(`/v1/steps/${step.id}/feedback`)
        .send({ feedback: 'positive', tags: ['good', 'reviewed'] })
        .expect(200);
      expect(positive.body).toMatchObject({ feedback: 'positive', tags: ['good', 'reviewed'] });

      const cleared = await request(t.server)
        .patch(`/v1/steps/${step.id}/feedback`)
        .send({ feedback: null })
        .expect(200);
      expect(cleared.body).toMatchObject({ feedback: null, tags: ['good', 'reviewed'] });

      const missing = await request(t.server)
        .patch(`/v1/steps/${step.id}/feedback`)
        .send({})
        .expect(400);
      expect(JSON.stringify(missing.body.message)).toContain('feedback');
      await request(t.server)
        .patch(`/v1/steps/${GIVEN_ID}/feedback`)
        .send({ feedback: 'negative' })
        .expect(404);
    });
  });

  describe('PUT and GET /v1/steps/:step_id/metrics', () => {
    it('records metrics, keeps earlier fields a later call leaves out, and 404s when there are none', async () => {
      const step = await api.create();
      await request(t.server).get(`/v1/steps/${step.id}/metrics`).expect(404);

      await request(t.server)
        .put(`/v1/steps/${step.id}/metrics`)
        .send({ step_start_ns: '1764316800000000000', llm_request_ns: 5 })
        .expect(200);
      const second = await request(t.server)
        .put(`/v1/steps/${step.id}/metrics`)
        .send({ step_ns: 99 })
        .expect(200);

      expect(second.body).toMatchObject({
        id: step.id,
        step_start_ns: '1764316800000000000',
        llm_request_ns: '5',
        step_ns: '99',
        tool_execution_ns: null,
      });
      await request(t.server).get(`/v1/steps/${step.id}/metrics`).expect(200, second.body);
      await request(t.server).put(`/v1/steps/${GIVEN_ID}/metrics`).send({ step_ns: 1 }).expect(404);
      await request(t.server).get(`/v1/steps/${GIVEN_ID}/metrics`).expect(404);
    });

    it('rejects negative, fractional, non-numeric and over-64-bit nanosecond counts', async () => {
      const step = await api.create();
      for (const value of [
        '-1',
        '1.5',
        '"12ab"',
        '9223372036854775808',
        '"99999999999999999999"',
        'true',
      ]) {
        const response = await request(t.server)
          .put(`/v1/steps/${step.id}/metrics`)
          .set('content-type', 'application/json')
          .send(`{"step_ns":${value}}`)
          .expect(400);
        expect(JSON.stringify(response.body.message)).toContain('step_ns');
      }
      await expect(t.dataSource.getRepository(StepMetrics).count()).resolves.toBe(0);
    });
  });

  describe('listing', () => {
    it('filters by every field, alone and together', async () => {
      const a = await api.create({
        agent_id: 'a1',
        run_id: 'r1',
        project_id: 'p1',
        model: 'm1',
        trace_id: 't1',
        tags: ['x', 'y'],
      });
      const b = await api.create({
        agent_id: 'a1',
        run_id: 'r2',
        project_id: 'p2',
        model: 'm2',
        trace_id: 't2',
        tags: ['x'],
      });
      const c = await api.create({ agent_id: 'a2', run_id: 'r2', model: 'm1', trace_id: 't3' });
      await api.complete(a.id, 'success').expect(200);
      await api.complete(b.id, 'cancelled').expect(200);
      await request(t.server)
        .patch(`/v1/steps/${b.id}/feedback`)
        .send({ feedback: 'negative' })
        .expect(200);

      const ids = async (query: string) => (await api.list(query)).map((step) => step.id).sort();
      const sorted = (...steps: StepJson[]) => steps.map((step) => step.id).sort();

      await expect(ids('agent_id=a1')).resolves.toEqual(sorted(a, b));
      await expect(ids('run_id=r2')).resolves.toEqual(sorted(b, c));
      await expect(ids('project_id=p1')).resolves.toEqual(sorted(a));
      await expect(ids('model=m1')).resolves.toEqual(sorted(a, c));
      await expect(ids('status=pending')).resolves.toEqual(sorted(c));
      await expect(ids('status=success')).resolves.toEqual(sorted(a));
      await expect(ids('feedback=negative')).resolves.toEqual(sorted(b));
      await expect(ids('has_feedback=true')).resolves.toEqual(sorted(b));
      await expect(ids('has_feedback=false')).resolves.toEqual(sorted(a, c));
      await expect(ids('trace_ids=t1&trace_ids=t3')).resolves.toEqual(sorted(a, c));
      await expect(ids('trace_ids=t2')).resolves.toEqual(sorted(b));
      await expect(ids('tags=x')).resolves.toEqual(sorted(a, b));
      await expect(ids('tags=x&tags=y')).resolves.toEqual(sorted(a));
      await expect(ids('tags=x&tags=z')).resolves.toEqual([]);
      await expect(ids('agent_id=a1&model=m1')).resolves.toEqual(sorted(a));
      await expect(
        ids(
          `start_date=${encodeURIComponent(b.created_at)}&end_date=${encodeURIComponent(b.created_at)}`,
        ),
      ).resolves.toEqual(expect.arrayContaining([b.id]));
      await expect(ids('start_date=2999-01-01')).resolves.toEqual([]);
      await expect(ids('end_date=2000-01-01T00:00:00Z')).resolves.toEqual([]);
      await expect(ids('start_date=2000-01-01&end_date=2999-01-01')).resolves.toEqual(
        sorted(a, b, c),
      );

      const runSteps = await request(t.server).get('/v1/runs/r2/steps').expect(200);
      expect(runSteps.body.map((step: { id: string }) => step.id).sort()).toEqual(sorted(b, c));
      const trailingSlash = await request(t.server).get('/v1/steps/?agent_id=a2').expect(200);
      expect(trailingSlash.body.map((step: { id: string }) => step.id)).toEqual([c.id]);
    });

    it('pages forward with after=<last id> until an empty page, in both orders, with no step missed or repeated', async () => {
      const created: string[] = [];
      for (let i = 0; i < 23; i++) created.push((await api.create({ run_id: 'paged' })).id);
      const byAge = (
        await t.dataSource.getRepository(Step).find({ order: { createdAt: 'ASC', id: 'ASC' } })
      ).map((step) => step.id);

      for (const order of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let after = '';
        for (;;) {
          const page = await api.list(
            `run_id=paged&limit=5&order=${order}${after ? `&after=${after}` : ''}`,
          );
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(5);
          seen.push(...page.map((step) => step.id));
          after = page[page.length - 1].id;
        }
        expect(seen).toEqual(order === 'asc' ? byAge : [...byAge].reverse());
      }
      expect(new Set(created)).toEqual(new Set(byAge));

      const defaultOrder = await api.list('run_id=paged&limit=3');
      expect(defaultOrder.map((step) => step.id)).toEqual([...byAge].reverse().slice(0, 3));
      const before = await api.list(`run_id=paged&order=asc&before=${byAge[3]}`);
      expect(before.map((step) => step.id)).toEqual(byAge.slice(0, 3));
      const defaultLimit = await api.list('limit=1000');
      expect(defaultLimit).toHaveLength(23);
      await expect(api.list('')).resolves.toHaveLength(23);
    });

    it('returns at most 50 steps by default', async () => {
      for (let i = 0; i < 55; i++) await api.create();
      await expect(api.list('')).resolves.toHaveLength(50);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['order=sideways', 'order'],
      ['order_by=updated_at', 'order_by'],
      ['status=done', 'status'],
      ['feedback=meh', 'feedback'],
      ['has_feedback=yes', 'has_feedback'],
      ['start_date=yesterday', 'start_date'],
      ['end_date=2026-13-45', 'end_date'],
      ['after=step-1', 'after'],
      [`before=${GIVEN_ID}`, 'before'],
      ['colour=blue', 'colour'],
    ])('answers 400 naming the parameter for %s', async (query, field) => {
      const response = await request(t.server).get(`/v1/steps?${query}`).expect(400);
      expect(JSON.stringify(response.body.message)).toContain(field);
    });
  });
});
