import { ConfigValidationError } from './env.js';
import { parseStephookConfig } from './stephook-config.js';

describe(parseStephookConfig.name, () => {
  it('reads every block from the record it is given, and nothing else', () => {
    const config = parseStephookConfig({
      PORT: '4010',
      DATABASE_URL: 'sqlite::memory:',
      STEP_COMPLETE_WEBHOOK: 'http://127.0.0.1:4000/hook',
      DELIVERY_WORKER: 'off',
      STEP_RETENTION: '7d',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    expect(config.app.port).toBe(4010);
    expect(config.database).toEqual({ dialect: 'sqlite', path: ':memory:' });
    expect(config.webhook.url?.href).toBe('http://127.0.0.1:4000/hook');
    expect(config.delivery.worker).toBe(false);
    expect(config.retention.stepsMs).toBe(7 * 86_400_000);
    expect(config.tracing.enabled).toBe(true);
  });

  it('is frozen all the way down', () => {
    const config = parseStephookConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.app)).toBe(true);
    expect(Object.isFrozen(config.app.http)).toBe(true);
    expect(Object.isFrozen(config.webhook.retryScheduleMs)).toBe(true);
    expect(() => {
      (config.app as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('throws the first bad variable as a ConfigValidationError naming it', () => {
    expect(() => parseStephookConfig({ HOST: 'not a host' })).toThrow(ConfigValidationError);
    expect(() => parseStephookConfig({ PORT: 'eighty' })).toThrow(
      'PORT must be a whole number, got "eighty"',
    );
  });
});
