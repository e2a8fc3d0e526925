import {
  Attributes,
  context,
  Context,
  Link,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
  Tracer,
} from '@opentelemetry/api';
import { Logger } from '@nestjs/common';
import type { IdGenerator } from '@opentelemetry/sdk-trace-node';
import { STEPHOOK_VERSION } from '../common/version.js';
import type { TracingConfig } from '../config/tracing.config.js';
import { errorMessage } from '../common/error-message.js';

/**
 * OpenTelemetry tracing, in one place. Off (no OTLP endpoint), nothing here loads the SDK and every
 * helper returns before making a span: the hot path pays one boolean test. On, `startTracing`
 * registers the official Node SDK (async-hooks context, W3C trace context, a batch processor and the
 * OTLP/HTTP exporter the protocol names), which read their own OTEL_* variables.
 */
let enabled = false;
let stop: (() => Promise<void>) | undefined;
/** The trace id the next root span takes (`startSpanInTrace`), consumed as it is read. */
let nextTraceId: string | undefined;

export function tracingEnabled(): boolean {
  return enabled;
}

export async function startTracing(config: TracingConfig): Promise<void> {
  if (!config.enabled || enabled) return;
  const [sdk, resources, exporters] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    config.protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const random = new sdk.RandomIdGenerator();
  const ids: IdGenerator = {
    generateTraceId: () => {
      const id = nextTraceId ?? random.generateTraceId();
      nextTraceId = undefined;
      return id;
    },
    generateSpanId: () => random.generateSpanId(),
  };
  const provider = new sdk.NodeTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the environment detector) win over these.
    resource: resources
      .defaultResource()
      .merge(
        resources.resourceFromAttributes({
          'service.name': 'stephook',
          'service.version': STEPHOOK_VERSION,
        }),
      )
      .merge(resources.detectResources({ detectors: [resources.envDetector] })),
    idGenerator: ids,
    spanProcessors: [new sdk.BatchSpanProcessor(new exporters.OTLPTraceExporter())],
  });
  provider.register();
  enabled = true;
  stop = async () => {
    enabled = false;
    await provider.shutdown();
  };
}

/** The longest the spans still buffered at shutdown may take to reach the collector. */
export const TRACE_FLUSH_MS = 2_000;

/**
 * Sends the spans still buffered and stops (at shutdown), giving up after `withinMs`; nothing when
 * tracing is off. Never throws: a collector that is down or hangs costs one warn line and those
 * spans, never the exit code.
 */
export async function stopTracing(withinMs = TRACE_FLUSH_MS): Promise<void> {
  const stopping = stop;
  stop = undefined;
  if (!stopping) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`the collector did not answer within ${withinMs} ms`),
      withinMs,
    );
  });
  const failure = await Promise.race([stopping().then(() => null, errorMessage), late]);
  clearTimeout(timer);
  if (failure !== null) {
    new Logger('Tracing').warn(`The last spans were not exported (${failure}); they are dropped`);
  }
}

function tracer(): Tracer {
  return trace.getTracer('stephook', STEPHOOK_VERSION);
}

/** A W3C trace id: 32 hex digits, not all zero (lowercased). Anything else: null. */
export function w3cTraceId(value: string | null | undefined): string | null {
  if (!value || !/^[0-9a-fA-F]{32}$/.test(value) || /^0+$/.test(value)) return null;
  return value.toLowerCase();
}

/** The W3C `traceparent` of a span, as a header carries it. */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

/** The context a `traceparent` (from a header or a stored row) names; the root context if none. */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** Runs `work` in an internal span that is a child of the active one; just `work` when off. */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (!enabled) return work();
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A span that starts work carried on elsewhere (a message), in the trace `traceId` names when it
 * is a W3C trace id: a child of the active span if that span is in it, else a new root in it linked
 * to the active span. Without such a trace id, a child of the active span. Null when off.
 */
export function startMessageSpan(
  name: string,
  traceId: string | null,
  attributes: Attributes,
): Span | null {
  if (!enabled) return null;
  const active = trace.getActiveSpan()?.spanContext();
  const options = { kind: SpanKind.PRODUCER, attributes };
  if (traceId === null || active?.traceId === traceId) return tracer().startSpan(name, options);
  const links: Link[] = active ? [{ context: active }] : [];
  nextTraceId = traceId;
  try {
    return tracer().startSpan(name, { ...options, links, root: true });
  } finally {
    nextTraceId = undefined;
  }
}

/** A client span under the context `traceparent` names (a root if none). Null when off. */
export function startClientSpan(
  name: string,
  traceparent: string | null,
  attributes: Attributes,
): Span | null {
  if (!enabled) return null;
  return tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes }, contextOf(traceparent));
}

/** A server span for a request whose headers may carry the caller's trace context. */
export function startServerSpan(
  name: string,
  headers: Record<string, string | string[] | undefined>,
  attributes: Attributes,
): { span: Span; context: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Marks a span as failed by `error` (an exception, or a description). */
export function failed(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: errorMessage(error),
  });
}

export { context };
