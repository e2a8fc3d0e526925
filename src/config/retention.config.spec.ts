import { parseRetentionConfig } from './retention.config.js';
import { parseTracingConfig } from './tracing.config.js';

describe(parseRetentionConfig.name, () => {
  it('defaults: delivered 30 days, failed 90 days, steps kept', () => {
    expect(parseRetentionConfig({})).toEqual({
      deliveredMs: 30 * 86_400_000,
      failedMs: 90 * 86_400_000,
      stepsMs: null,
    });
  });

  it('reads durations and "never"', () => {
    expect(
      parseRetentionConfig({
        STEP_COMPLETE_RETENTION: 'never',
        STEP_COMPLETE_FAILED_RETENTION: '12h',
        STEP_RETENTION: '365d',
      }),
    ).toEqual({ deliveredMs: null, failedMs: 12 * 3_600_000, stepsMs: 365 * 86_400_000 });
  });

  it.each(['0s', '30', 'forever', '-1d'])(
    'refuses STEP_RETENTION=%s naming the variable',
    (value) => {
      expect(() => parseRetentionConfig({ STEP_RETENTION: value })).toThrow(
        `STEP_RETENTION must be a duration such as 5d or 12h (units ms, s, m, h, d) or "never"; "${value}" is not one`,
      );
    },
  );
});

describe(parseTracingConfig.name, () => {
  it('is off without an OTLP endpoint', () => {
    expect(parseTracingConfig({})).toEqual({ enabled: false, protocol: 'http/protobuf' });
  });

  it('is on with OTEL_EXPORTER_OTLP_ENDPOINT or the traces endpoint, unless disabled', () => {
    const endpoint = 'http://collector:4318';
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }).enabled).toBe(true);
    expect(
      parseTracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` }).enabled,
    ).toBe(true);
    expect(
      parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'true' })
        .enabled,
    ).toBe(false);
    expect(
      parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: 'none' })
        .enabled,
    ).toBe(false);
  });

  it('reads the protocol, the traces-specific variable first, and refuses gRPC by name', () => {
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol).toBe(
      'http/json',
    );
    expect(
      parseTracingConfig({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }).protocol,
    ).toBe('http/protobuf');
    expect(() => parseTracingConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      'OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json',
    );
    expect(() => parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an absolute http:// or https:// URL',
    );
  });
});
