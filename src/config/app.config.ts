import { isIP } from 'node:net';
import { ConfigValidationError, Env, readChoice, readInteger, readVar } from './env.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function parseAppConfig(env: Env) {
  return {
    port: readInteger(env, 'PORT', 3000, { min: 0, max: 65_535 }),
    /** A worker's /metrics, /health and /ready listener (0: none). API processes serve them on PORT. */
    metricsPort: readInteger(env, 'METRICS_PORT', 9464, { min: 0, max: 65_535 }),
    host: readHost(env),
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
 * An IPv4 or IPv6 address (`0.0.0.0`, `::`, `::1`) or a host name (`localhost`), checked here so a
 * bad HOST stops the start with one line instead of failing at listen.
 */
function readHost(env: Env): string {
  const host = readVar(env, 'HOST') ?? '127.0.0.1';
  if (isIP(host) || isHostName(host)) return host;
  throw new ConfigValidationError(
    'HOST',
    `must be an IPv4 or IPv6 address or a host name (such as 127.0.0.1, 0.0.0.0, :: or localhost), got "${host}"`,
  );
}

/** RFC 1123 labels of letters, digits and inner hyphens; a last label of digits only is an address gone wrong. */
function isHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  const labels = name.split('.');
  return (
    name.length <= 253 &&
    labels.every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label)) &&
    !/^\d+$/.test(labels[labels.length - 1])
  );
}

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

export type AppConfig = Readonly<ReturnType<typeof parseAppConfig>>;
