import { ConfigValidationError, Env, readChoice, readHttpUrl, readVar } from './env.js';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * OpenTelemetry traces, read from the standard variables: on when an OTLP endpoint is set (and
 * neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says otherwise). The exporter, the
 * batch processor, the sampler and the resource read their own OTEL_* variables; these are checked
 * here only so a bad value stops the start with one line.
 */
export function parseTracingConfig(env: Env) {
  const endpoint =
    readHttpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ??
    readHttpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const disabled =
    readVar(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true' ||
    readVar(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase() === 'none';
  const protocolVariable = readVar(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  if (readVar(env, protocolVariable)?.toLowerCase() === 'grpc') {
    throw new ConfigValidationError(
      protocolVariable,
      'must be http/protobuf or http/json: stephook exports over OTLP/HTTP, not gRPC',
    );
  }
  return {
    enabled: endpoint !== undefined && !disabled,
    protocol: readChoice(env, protocolVariable, OTLP_PROTOCOLS, 'http/protobuf'),
  };
}

export type TracingConfig = Readonly<ReturnType<typeof parseTracingConfig>>;
