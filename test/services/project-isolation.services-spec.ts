import type { ReceivedRequest } from '../helpers/webhook-receiver.js';
import { Api, eventually, useProcessBed } from './services.js';

/**
 * SPEC §10 across processes on PostgreSQL: two API processes (each delivering, no Redis), a key
 * bound to project A and one bound to project B, each completing its own steps through one process
 * while it lists through the other. Counted at the receiver: every webhook once, none lost, none
 * twice; no answer of 500 or more; no answer to A's key carrying anything of B, nor the reverse.
 */
const REDIS_DB = 5; // emptied by the bed; no process here is given REDIS_URL
const API_KEY = 'sk-stephook-services-0123456789';
const STEPS_PER_PROJECT = 150;
const WRITERS_PER_PROJECT = 4;

type Project = 'proj-a' | 'proj-b';

interface Answer {
  status: number;
  body: unknown;
}

async function send(
  api: Api,
  authorization: string,
  method: string,
  path: string,
  body?: object,
): Promise<Answer> {
  const response = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: {
      authorization,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
}

/** One project's side: its key, the steps it completed, and what its readers were answered. */
class Side {
  readonly completed = new Set<string>();
  readonly listed: { path: string; body: unknown }[] = [];
  failures: string[] = [];
  constructor(
    readonly project: Project,
    readonly authorization: string,
  ) {}

  /** Creates and completes steps of its project through `api`, `count` in all over `loops`. */
  async write(api: Api, count: number, loops: number): Promise<void> {
    let left = count;
    await Promise.all(
      Array.from({ length: loops }, async () => {
        while (left-- > 0) {
          const created = await this.call(api, 'POST', '/v1/steps', {
            project_id: this.project,
            agent_id: 'agent-shared',
          });
          if (created.status !== 201) continue;
          const { id } = created.body as { id: string };
          const done = await this.call(api, 'POST', `/v1/steps/${id}/success`, {});
          if (done.status === 200) this.completed.add(id);
        }
      }),
    );
  }

  /** Lists through `api` until `stop` says so: every list a bound key reads, and the summary. */
  async read(api: Api, stop: () => boolean): Promise<void> {
    const paths = [
      '/v1/steps?limit=100',
      '/v1/steps?agent_id=agent-shared&limit=100',
      '/v1/webhook-deliveries?limit=100',
      '/v1/webhook-deliveries?status=delivered&limit=100',
      '/v1/webhook-deliveries/summary',
      '/v1/webhook-endpoints',
    ];
    for (let round = 0; !stop(); round++) {
      const path = paths[round % paths.length];
      const answer = await this.call(api, 'GET', path);
      if (answer.status === 200) this.listed.push({ path, body: answer.body });
      // Page on from the last row: a cursor of its own, never refused.
      const rows = answer.body as { id: string }[];
      if (Array.isArray(rows) && rows.length > 0 && !path.includes('endpoints')) {
        const next = `${path}&after=${rows[rows.length - 1].id}`;
        const paged = await this.call(api, 'GET', next);
        if (paged.status === 200) this.listed.push({ path: next, body: paged.body });
        else if (paged.status < 500) this.failures.push(`${next} → ${paged.status}`);
      }
    }
  }

  private async call(api: Api, method: string, path: string, body?: object): Promise<Answer> {
    try {
      const answer = await send(api, this.authorization, method, path, body);
      if (answer.status >= 500)
        this.failures.push(`${method} ${path} → ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer;
    } catch (error) {
      this.failures.push(`${method} ${path} → ${String(error)}`);
      return { status: 0, body: null };
    }
  }
}

const stepIdOf = (request: ReceivedRequest) =>
  (JSON.parse(request.rawBody.toString('utf8')) as { step_id: string }).step_id;

describe('Keys bound to projects, two API processes on PostgreSQL (services)', () => {
  const bed = useProcessBed(REDIS_DB, ({ db, receiver }) => ({
    DATABASE_URL: db.url,
    API_KEY,
    STEP_COMPLETE_WEBHOOK: receiver.url('/env'),
    STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    STEP_COMPLETE_TIMEOUT_MS: '15000',
  }));

  it('each key completes its steps while the other lists: every webhook once, nothing of the other', async () => {
    const [api1, api2] = await Promise.all([
      bed.startApi({ DELIVERY_WORKER: 'on' }),
      bed.startApi({ DELIVERY_WORKER: 'on' }),
    ]);
    const admin = `Bearer ${API_KEY}`;
    const keyOf = async (project: Project) => {
      const created = await send(api1, admin, 'POST', '/v1/api-keys', {
        name: project,
        scopes: [
          'steps:write',
          'steps:read',
          'deliveries:read',
          'endpoints:read',
          'endpoints:write',
        ],
        project_ids: [project],
      });
      expect(created.status).toBe(201);
      return new Side(project, `Bearer ${(created.body as { key: string }).key}`);
    };
    const a = await keyOf('proj-a');
    const b = await keyOf('proj-b');
    // Keys made through one process reach the other within a second.
    await eventually(
      async () => (await send(api2, b.authorization, 'GET', '/v1/steps')).status === 200,
      'the keys to work on the second process',
      10_000,
    );
    // Each key's own endpoint, made through the process it writes through: that process fans out
    // to it from the answer on (another one would within a second, SPEC §9).
    const endpointOf = async (side: Side, api: Api) => {
      const created = await send(api, side.authorization, 'POST', '/v1/webhook-endpoints', {
        url: bed.receiver.url(`/${side.project}`),
        filter: { project_ids: [side.project] },
      });
      expect(created.status).toBe(201);
      return (created.body as { id: string }).id;
    };
    const endpointA = await endpointOf(a, api1);
    const endpointB = await endpointOf(b, api2);

    let writing = true;
    const writers = Promise.all([
      a.write(api1, STEPS_PER_PROJECT, WRITERS_PER_PROJECT),
      b.write(api2, STEPS_PER_PROJECT, WRITERS_PER_PROJECT),
    ]).finally(() => {
      writing = false;
    });
    await Promise.all([writers, a.read(api2, () => !writing), b.read(api1, () => !writing)]);

    process.stdout.write(
      `project isolation (services): ${a.completed.size + b.completed.size} steps completed, ` +
        `${a.listed.length + b.listed.length} list answers read meanwhile\n`,
    );
    expect([...a.failures, ...b.failures]).toEqual([]);
    expect(a.completed.size).toBe(STEPS_PER_PROJECT);
    expect(b.completed.size).toBe(STEPS_PER_PROJECT);

    // At the receiver: the environment endpoint hears every step once, each project's endpoint
    // its own project's steps once.
    const total = 2 * STEPS_PER_PROJECT;
    await bed.receiver.waitForRequests(2 * total, 60_000);
    const heard = (path: string) => bed.receiver.requestsTo(path);
    const once = (requests: ReceivedRequest[]) => {
      const webhookIds = requests.map((request) => request.headers['webhook-id']);
      expect(new Set(webhookIds).size).toBe(webhookIds.length);
      return new Set(requests.map(stepIdOf));
    };
    expect(once(heard('/env'))).toEqual(new Set([...a.completed, ...b.completed]));
    expect(once(heard('/proj-a'))).toEqual(a.completed);
    expect(once(heard('/proj-b'))).toEqual(b.completed);
    expect(bed.receiver.requests).toHaveLength(2 * total);

    // Nothing of the other project in any answer, and each read saw something of its own.
    for (const [side, other, ownEndpoint, otherEndpoint] of [
      [a, b, endpointA, endpointB],
      [b, a, endpointB, endpointA],
    ] as const) {
      const foreign = [...other.completed, other.project, otherEndpoint];
      expect(side.listed.length).toBeGreaterThan(0);
      for (const { path, body } of side.listed) {
        const text = JSON.stringify(body);
        for (const mark of foreign) {
          if (text.includes(mark)) throw new Error(`${side.project} was shown ${mark} by ${path}`);
        }
        if (path.startsWith('/v1/webhook-endpoints'))
          expect((body as { id: string }[]).map((row) => row.id)).toEqual([ownEndpoint]);
        if (path.startsWith('/v1/webhook-deliveries/summary'))
          expect((body as { receiver_url: unknown }).receiver_url).toBeNull();
      }
      const final = await send(api1, side.authorization, 'GET', '/v1/webhook-deliveries/summary');
      expect(final.body).toMatchObject({ counts: { delivered: 2 * STEPS_PER_PROJECT } });
    }
  });
});
