import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { eventually } from './helpers/deadline.js';
import { ensureBuilt, freePort, ServerProcess } from './helpers/server-process.js';
import type { LogLine } from './helpers/server-process.js';
import type { ReceivedRequest } from './helpers/webhook-receiver.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

/** One span as OTLP/JSON carries it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number };
}

const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4 };

/** Every span an OTLP/HTTP JSON export carried, with its resource's service.name. */
function exportedSpans(requests: ReceivedRequest[]): (OtlpSpan & { service: string })[] {
  return requests.flatMap((request) => {
    const body = JSON.parse(request.rawBody.toString('utf8')) as {
      resourceSpans: {
        resource: { attributes: OtlpSpan['attributes'] };
        scopeSpans: { spans: OtlpSpan[] }[];
      }[];
    };
    return body.resourceSpans.flatMap((resourceSpans) => {
      const service = String(
        resourceSpans.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
      );
      return resourceSpans.scopeSpans.flatMap((scope) =>
        scope.spans.map((span) => ({ ...span, service })),
      );
    });
  });
}

function attribute(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  return value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value);
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
// Each server gets a database of its own, never the user's data/stephook.sqlite.
const IN_MEMORY = { DATABASE_URL: 'sqlite::memory:' };

/** Traces: the official SDK's real exporter, to an OTLP/HTTP receiver in this process. */
describe('OpenTelemetry traces (e2e, built server)', () => {
  let collector: WebhookReceiver;
  let receiver: WebhookReceiver;
  let server: (ServerProcess & { baseUrl: string }) | undefined;

  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    collector = (await WebhookReceiver.start()).replyWith({
      status: 200,
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    receiver = (await WebhookReceiver.start()).replyWith({ status: 204 });
  });
  afterEach(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    server = undefined;
    await collector.close();
    await receiver.close();
  });

  async function post(path: string, body: object, headers: Record<string, string> = {}) {
    const response = await fetch(`${server!.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { id: string } };
  }

  it('exports request, transition, creation and attempt spans; the webhook carries traceparent in the step’s trace', async () => {
    server = await ServerProcess.start({
      ...IN_MEMORY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url(''),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'stephook-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    // A: the agent's trace id on the step, and the agent propagates that trace on the call.
    const agentTrace = hex(16);
    const agentSpan = hex(8);
    const a = await post('/v1/steps', { agent_id: 'agent-t', trace_id: agentTrace });
    expect(
      (
        await post(
          `/v1/steps/${a.body.id}/success`,
          {},
          {
            traceparent: `00-${agentTrace}-${agentSpan}-01`,
          },
        )
      ).status,
    ).toBe(200);
    // B: a W3C trace id on the step, but the call carries no trace context.
    const stepTrace = hex(16);
    const b = await post('/v1/steps', { agent_id: 'agent-t', trace_id: stepTrace });
    expect((await post(`/v1/steps/${b.body.id}/success`, {})).status).toBe(200);
    // C: a trace id that is not a W3C one.
    const c = await post('/v1/steps', { agent_id: 'agent-t', trace_id: 'letta-run-42' });
    expect((await post(`/v1/steps/${c.body.id}/success`, {})).status).toBe(200);

    await receiver.waitForRequests(3);
    const hookFor = (stepId: string) =>
      receiver.requests.find((request) => request.rawBody.toString('utf8').includes(stepId))!;
    const traceparent = (stepId: string) =>
      /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(hookFor(stepId).headers.traceparent));

    let spans: ReturnType<typeof exportedSpans> = [];
    await eventually(async () => {
      spans = exportedSpans(collector.requests);
      return spans.filter((span) => span.name === 'POST').length === 3;
    }, 'the three attempt spans to be exported');
    expect(new Set(spans.map((span) => span.service))).toEqual(new Set(['stephook-under-test']));
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const parentOf = (span: OtlpSpan) => byId.get(span.parentSpanId ?? '');
    const attemptFor = (stepId: string) =>
      spans.find((span) => span.name === 'POST' && attribute(span, 'stephook.step.id') === stepId)!;

    // A: one story, agent → request → transition → creation → attempt → receiver.
    const attemptA = attemptFor(a.body.id);
    const createA = parentOf(attemptA)!;
    const transitionA = parentOf(createA)!;
    const requestA = parentOf(transitionA)!;
    expect(
      [attemptA, createA, transitionA, requestA].map((span) => [span.name, span.kind]),
    ).toEqual([
      ['POST', SPAN_KIND.client],
      ['create step.completed', SPAN_KIND.producer],
      ['step.complete', SPAN_KIND.internal],
      ['POST /v1/steps/:step_id/success', SPAN_KIND.server],
    ]);
    expect(requestA.parentSpanId).toBe(agentSpan);
    for (const span of [attemptA, createA, transitionA, requestA]) {
      expect(span.traceId).toBe(agentTrace);
    }
    expect(attribute(requestA, 'http.route')).toBe('/v1/steps/:step_id/success');
    expect(attribute(requestA, 'http.response.status_code')).toBe(200);
    expect(attribute(attemptA, 'http.response.status_code')).toBe(204);
    expect(attribute(attemptA, 'stephook.endpoint.id')).toBe('env');
    expect(attribute(attemptA, 'stephook.delivery.outcome')).toBe('success');
    expect(attribute(attemptA, 'stephook.delivery.id')).toBe(
      hookFor(a.body.id).headers['webhook-id'],
    );
    expect(attribute(attemptA, 'url.full')).toBe(receiver.url());
    expect(traceparent(a.body.id)?.slice(1)).toEqual([agentTrace, attemptA.spanId]);

    // B: the request starts a trace of its own; the delivery's spans are in the step's trace,
    // linked back to the transition.
    const attemptB = attemptFor(b.body.id);
    const createB = parentOf(attemptB)!;
    expect(createB.name).toBe('create step.completed');
    expect(createB.traceId).toBe(stepTrace);
    expect(attemptB.traceId).toBe(stepTrace);
    expect(createB.parentSpanId ?? '').toBe('');
    const [link] = createB.links ?? [];
    const transitionB = byId.get(link.spanId)!;
    expect(transitionB.name).toBe('step.complete');
    expect(link.traceId).toBe(transitionB.traceId);
    expect(transitionB.traceId).not.toBe(stepTrace);
    expect(parentOf(transitionB)?.name).toBe('POST /v1/steps/:step_id/success');
    expect(traceparent(b.body.id)?.slice(1)).toEqual([stepTrace, attemptB.spanId]);

    // C: no W3C trace id: the delivery continues the request's own trace.
    const attemptC = attemptFor(c.body.id);
    const transitionC = parentOf(parentOf(attemptC)!)!;
    expect(transitionC.name).toBe('step.complete');
    expect(attemptC.traceId).toBe(transitionC.traceId);
    expect(traceparent(c.body.id)?.[1]).toBe(transitionC.traceId);
  });

  it('marks a failed attempt as an error with its status code; service.name defaults to stephook', async () => {
    receiver.replyWith({ status: 503 });
    server = await ServerProcess.start({
      ...IN_MEMORY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url(''),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    const step = await post('/v1/steps', { agent_id: 'agent-t' });
    expect(
      (
        await post(`/v1/steps/${step.body.id}/error`, {
          error_type: 'ToolError',
          error_message: 'boom',
        })
      ).status,
    ).toBe(200);
    await receiver.waitForRequests(1);
    let attempt: OtlpSpan | undefined;
    await eventually(async () => {
      attempt = exportedSpans(collector.requests).find((span) => span.name === 'POST');
      return attempt !== undefined;
    }, 'the failed attempt span to be exported');
    expect(attempt!.status?.code).toBe(2); // ERROR
    expect(attribute(attempt!, 'http.response.status_code')).toBe(503);
    expect(attribute(attempt!, 'error.type')).toBe('503');
    expect(attribute(attempt!, 'stephook.delivery.outcome')).toBe('http_error');
    expect(exportedSpans(collector.requests).every((span) => span.service === 'stephook')).toBe(
      true,
    );
  });

  it('a worker’s attempt joins the trace the API started (its context is stored with the delivery)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stephook-tracing-'));
    const shared = {
      DATABASE_URL: `sqlite:${join(dir, 'stephook.sqlite')}`,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url(''),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    };
    server = await ServerProcess.start({
      ...shared,
      DELIVERY_WORKER: 'off',
      OTEL_SERVICE_NAME: 'stephook-api',
    });
    const worker = await ServerProcess.startWorker({
      ...shared,
      OTEL_SERVICE_NAME: 'stephook-worker',
    });
    try {
      const stepTrace = hex(16);
      const step = await post('/v1/steps', { agent_id: 'agent-t', trace_id: stepTrace });
      await post(`/v1/steps/${step.body.id}/success`, {});
      await receiver.waitForRequests(1);
      let spans: ReturnType<typeof exportedSpans> = [];
      await eventually(async () => {
        spans = exportedSpans(collector.requests);
        return spans.some((span) => span.name === 'POST');
      }, 'the worker’s attempt span to be exported');
      const attempt = spans.find((span) => span.name === 'POST')!;
      const create = spans.find((span) => span.name === 'create step.completed')!;
      expect([attempt.service, create.service]).toEqual(['stephook-worker', 'stephook-api']);
      expect(attempt.parentSpanId).toBe(create.spanId);
      expect([attempt.traceId, create.traceId]).toEqual([stepTrace, stepTrace]);
      expect(receiver.requests[0].headers.traceparent).toBe(`00-${stepTrace}-${attempt.spanId}-01`);
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exports OTLP/HTTP protobuf by default', async () => {
    server = await ServerProcess.start({
      ...IN_MEMORY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url(''),
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    const step = await post('/v1/steps', { agent_id: 'agent-t' });
    await post(`/v1/steps/${step.body.id}/success`, {});
    await receiver.waitForRequests(1);
    await collector.waitForRequests(1);
    const [exported] = collector.requests;
    expect(exported.path).toBe('/v1/traces');
    expect(exported.headers['content-type']).toBe('application/x-protobuf');
    // The step id travels as a span attribute: the protobuf carries it as plain UTF-8.
    await eventually(
      async () => Buffer.concat(collector.requests.map((r) => r.rawBody)).includes(step.body.id),
      'a protobuf export holding the step’s spans',
    );
  });

  it('without an OTLP endpoint sends no traceparent and exports nothing', async () => {
    server = await ServerProcess.start({ ...IN_MEMORY, STEP_COMPLETE_WEBHOOK: receiver.url() });
    const step = await post('/v1/steps', { agent_id: 'agent-t', trace_id: hex(16) });
    await post(
      `/v1/steps/${step.body.id}/success`,
      {},
      { traceparent: `00-${hex(16)}-${hex(8)}-01` },
    );
    await receiver.waitForRequests(1);
    expect(receiver.requests[0].headers.traceparent).toBeUndefined();
    expect(collector.requests).toHaveLength(0);
  });
});

/** SPEC §6 with tracing on: a collector that is down or hangs never changes how a stop ends. */
describe('Stopping with an unreachable OTLP collector (e2e, built server)', () => {
  beforeAll(() => ensureBuilt());

  /** Starts the server tracing to `endpoint` with spans buffered, SIGTERMs it, and times the exit. */
  async function stopWhileExportingTo(endpoint: string) {
    const receiver = (await WebhookReceiver.start()).replyWith({ status: 204 });
    try {
      const server = await ServerProcess.start({
        ...IN_MEMORY,
        STEP_COMPLETE_WEBHOOK: receiver.url(),
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        // Spans stay buffered until the stop has to send them.
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      });
      const created = await fetch(`${server.baseUrl}/v1/steps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      const { id } = (await created.json()) as { id: string };
      const done = await fetch(`${server.baseUrl}/v1/steps/${id}/success`, { method: 'POST' });
      expect(done.status).toBe(200);
      await receiver.waitForRequests(1);
      const signalled = performance.now();
      const logged = server.lines.length;
      server.kill('SIGTERM');
      const code = await server.exited;
      return { code, tookMs: performance.now() - signalled, stopLines: server.lines.slice(logged) };
    } finally {
      await receiver.close();
    }
  }

  /** The stop logged one warn line about the spans, and no error. */
  function expectOneWarning(stopLines: LogLine[]): void {
    const warnings = stopLines.filter((line) => line.level === 'warn');
    expect(warnings.map((line) => line.message)).toEqual([
      expect.stringMatching(/^The last spans were not exported \(.+\); they are dropped$/),
    ]);
    expect(stopLines.filter((line) => line.level === 'error')).toEqual([]);
  }

  it('exits 0 within 10 s when nothing listens on the collector port', async () => {
    const port = await freePort();
    const { code, tookMs, stopLines } = await stopWhileExportingTo(`http://127.0.0.1:${port}`);
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(10_000);
    expectOneWarning(stopLines);
  }, 60_000);

  it('exits 0 within 10 s when the collector accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    let connections = 0;
    const collector = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume(); // reads the export, never answers
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    try {
      const { port } = collector.address() as { port: number };
      const { code, tookMs, stopLines } = await stopWhileExportingTo(`http://127.0.0.1:${port}`);
      expect(code).toBe(0);
      expect(tookMs).toBeLessThan(10_000);
      expect(connections).toBeGreaterThan(0); // the flush reached it, and was left hanging
      expectOneWarning(stopLines);
    } finally {
      for (const socket of sockets) socket.destroy();
      collector.close();
      await once(collector, 'close');
    }
  }, 60_000);
});
