import request from 'supertest';
import type { App } from 'supertest/types.js';
import type { StepJson } from '../../src/steps/step.presenter.js';

/** Small wrappers over the steps routes, so tests read as the behaviour they check. */
export class StepsApi {
  constructor(private readonly server: App) {}

  async create(body: Record<string, unknown> = {}): Promise<StepJson> {
    const response = await request(this.server).post('/v1/steps').send(body).expect(201);
    return response.body as StepJson;
  }

  complete(stepId: string, status: 'success' | 'failed' | 'cancelled', body?: object) {
    const route = { success: 'success', failed: 'error', cancelled: 'cancel' }[status];
    const defaults = status === 'failed' ? { error_type: 'ToolError', error_message: 'boom' } : {};
    return request(this.server)
      .post(`/v1/steps/${stepId}/${route}`)
      .send(body ?? defaults);
  }

  async list(query: string): Promise<StepJson[]> {
    const response = await request(this.server).get(`/v1/steps?${query}`).expect(200);
    return response.body as StepJson[];
  }
}
