import { BlockList, isIP } from 'node:net';
import {
  ConfigValidationError,
  Env,
  parseDuration,
  readChoice,
  readDurationOrNever,
  readHeaderKey,
  readHttpUrl,
  readInteger,
  readPositiveNumber,
  readVar,
} from './env.js';
import { parseSigningSecrets } from './signing-secrets.js';

export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';
export const PAYLOAD_MODES = ['minimal', 'full'] as const;
export type PayloadMode = (typeof PAYLOAD_MODES)[number];

/** `5s,5m,30m` → delays in ms before retries 1..n; `none` → no retry at all. */
export function parseRetrySchedule(raw: string): number[] {
  if (raw.trim().toLowerCase() === 'none') return [];
  return raw.split(',').map((part) => {
    const delay = parseDuration(part);
    if (delay === undefined) {
      throw new ConfigValidationError(
        'STEP_COMPLETE_RETRY_SCHEDULE',
        `must be a comma-separated list of durations such as 5s,5m,2h (units ms, s, m, h) or "none"; "${part.trim()}" is not one`,
      );
    }
    return delay;
  });
}

/** STEP_COMPLETE_ALLOWED_NETWORKS: comma-separated CIDRs (`127.0.0.0/8, fd00::/8`) as a BlockList. */
export function parseAllowedNetworks(raw: string | undefined): BlockList {
  const list = new BlockList();
  for (const part of (raw ?? '').split(',').map((text) => text.trim())) {
    if (!part) continue;
    const [address, prefix, extra] = part.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const bits = Number(prefix);
    const max = type === 'ipv6' ? 128 : 32;
    if (!isIP(address) || extra !== undefined || !/^\d+$/.test(prefix ?? '') || bits > max) {
      throw new ConfigValidationError(
        'STEP_COMPLETE_ALLOWED_NETWORKS',
        `must be comma-separated CIDR ranges such as 127.0.0.0/8 or fd00::/8; "${part}" is not one`,
      );
    }
    list.addSubnet(address, bits, type);
  }
  return list;
}

/** Limits an endpoint may be given (SPEC §9 "Isolation"), and the default of `max_in_flight`. */
export const ENDPOINT_LIMITS = {
  maxInFlight: { min: 1, max: 1_000, default: 64 },
  rateLimit: { min: 0.01, max: 10_000 },
} as const;

export function parseWebhookConfig(env: Env) {
  return {
    /** Empty means notifications are off. */
    url: readHttpUrl(env, 'STEP_COMPLETE_WEBHOOK'),
    key: readHeaderKey(env, 'STEP_COMPLETE_KEY'),
    signingSecrets: parseSigningSecrets(readVar(env, 'STEP_COMPLETE_SECRET')),
    timeoutMs: readInteger(env, 'STEP_COMPLETE_TIMEOUT_MS', 15_000, { min: 1, max: 600_000 }),
    retryScheduleMs: parseRetrySchedule(
      readVar(env, 'STEP_COMPLETE_RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE,
    ),
    concurrency: readInteger(env, 'STEP_COMPLETE_CONCURRENCY', 64, { min: 1, max: 10_000 }),
    payload: readChoice(env, 'STEP_COMPLETE_PAYLOAD', PAYLOAD_MODES, 'minimal'),
    /** How long an API endpoint may fail without a break before it is disabled; null: never. */
    disableAfterMs: readDurationOrNever(env, 'STEP_COMPLETE_DISABLE_AFTER', '5d'),
    /** Private or loopback ranges that API endpoints may reach all the same. */
    allowedNetworks: parseAllowedNetworks(readVar(env, 'STEP_COMPLETE_ALLOWED_NETWORKS')),
    /** The environment endpoint's attempts in flight at once, per delivering process. */
    maxInFlight: readInteger(
      env,
      'STEP_COMPLETE_MAX_IN_FLIGHT',
      ENDPOINT_LIMITS.maxInFlight.default,
      ENDPOINT_LIMITS.maxInFlight,
    ),
    /** The environment endpoint's attempts per second across processes; undefined: no limit. */
    rateLimit: readPositiveNumber(env, 'STEP_COMPLETE_RATE_LIMIT', ENDPOINT_LIMITS.rateLimit),
  };
}

export type WebhookConfig = Readonly<ReturnType<typeof parseWebhookConfig>>;
