import { ConfigType, registerAs } from '@nestjs/config';
import { ConfigValidationError, Env, readChoice, readInteger, readVar } from './env.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function parseAppConfig(env: Env) {
  const host = readVar(env, 'HOST') ?? '127.0.0.1';
  if (/\s/.test(host)) throw new ConfigValidationError('HOST', 'must be a host name or address');
  return {
    port: readInteger(env, 'PORT', 3000, { min: 0, max: 65_535 }),
    /** A worker's /metrics, /health and /ready listener (0: none). API processes serve them on PORT. */
    metricsPort: readInteger(env, 'METRICS_PORT', 9464, { min: 0, max: 65_535 }),
    host,
    apiKey: readApiKey(env),
    logLevel: readChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: readChoice(env, 'LOG_FORMAT', LOG_FORMATS, 'text'),
    http: {
      keepAliveTimeoutMs: readInteger(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, MS_RANGE),
      headersTimeoutMs: readInteger(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, MS_RANGE),
      requestTimeoutMs: readInteger(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, MS_RANGE),
      maxConnections: readInteger(env, 'HTTP_MAX_CONNECTIONS', 1_000, { min: 1, max: 1_000_000 }),
    },
  };
}

const MS_RANGE = { min: 100, max: 3_600_000 };

/**
 * A client sends the key in a header, where only visible ASCII and Latin-1 bytes can travel (and
 * Node's HTTP client refuses anything else): a key outside that can never be sent, so the start stops.
 */
function readApiKey(env: Env): string | undefined {
  const key = readVar(env, 'API_KEY');
  if (key !== undefined && !/^[\x20-\x7e\xa0-\xff]+$/.test(key)) {
    throw new ConfigValidationError(
      'API_KEY',
      'must be printable ASCII or Latin-1 characters only: no client could send it in a header',
    );
  }
  return key;
}

export const appConfig = registerAs('app', () => parseAppConfig(process.env));
export type AppConfig = ConfigType<typeof appConfig>;
