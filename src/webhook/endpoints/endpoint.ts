import { randomBytes, randomUUID } from 'node:crypto';
import type { IdFormat } from '../../common/id-format.js';
import type { PayloadMode } from '../../config/webhook.config.js';
import type { StepCompletedEvent } from '../../steps/events/step-completed.event.js';
import type { TerminalStepStatus } from '../../steps/step-status.js';

/** The environment endpoint's id: STEP_COMPLETE_WEBHOOK and its companions. */
export const ENV_ENDPOINT_ID = 'env';

/** `ep_` and 32 hex digits, or `env`. */
export const ENDPOINT_ID: IdFormat = {
  pattern: /^(ep_[0-9a-f]{32}|env)$/,
  description: 'an endpoint id ("ep_" followed by 32 hex digits, or "env")',
};

/** How long a rotated-out secret keeps signing beside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/**
 * Rotated-out secrets that sign beside the current one at most (the most recently rotated out
 * first), so a request carries at most 3 signatures however often an endpoint is rotated (SPEC §9).
 */
export const MAX_PREVIOUS_SECRETS = 2;

export function newEndpointId(): string {
  return `ep_${randomUUID().replaceAll('-', '')}`;
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Which steps an endpoint hears about: every criterion given must match. */
export interface EndpointFilter {
  statuses?: TerminalStepStatus[];
  agent_ids?: string[];
  project_ids?: string[];
  run_ids?: string[];
  /** Every listed tag must be on the step. */
  tags?: string[];
}

/** A signing secret as stored: the newest first; one rotated out signs until `expires_at`. */
export interface StoredSecret {
  secret: string;
  expires_at: string | null;
}

/**
 * What the outbox and the dispatcher need of one endpoint, held in memory (`EndpointRegistry`), so
 * neither queries per endpoint.
 */
export interface Endpoint {
  id: string;
  url: URL;
  /** The environment endpoint's STEP_COMPLETE_KEY (a Bearer token); API endpoints use `headers`. */
  key?: string;
  secrets: { key: Buffer; expiresAt: number | null }[];
  headers: Record<string, string>;
  payload: PayloadMode;
  filter: EndpointFilter | null;
  disabled: boolean;
  /** Created through the API: may reach only public addresses (SPEC §9 "Private networks"). */
  restricted: boolean;
  /** Attempts in flight at once, per delivering process (SPEC §9 "Isolation"). */
  maxInFlight: number;
  /** Attempts per second across every delivering process; null: no limit. */
  rateLimit: number | null;
  /** Its circuit breaker is open: one probe at a time, spaced, until one reaches the receiver. */
  breakerOpen: boolean;
}

/**
 * The keys that sign an attempt made at `now`: the current secrets (the environment's, all of them;
 * an API endpoint's newest) and the MAX_PREVIOUS_SECRETS most recently rotated out that have not
 * expired. The cap here also covers endpoints rotated more often before rotation dropped the rest.
 */
export function signingKeys(endpoint: Endpoint, now: number): Buffer[] {
  const current = endpoint.secrets.filter((secret) => secret.expiresAt === null);
  const previous = endpoint.secrets
    .filter((secret) => secret.expiresAt !== null && secret.expiresAt > now)
    .sort((a, b) => (b.expiresAt ?? 0) - (a.expiresAt ?? 0))
    .slice(0, MAX_PREVIOUS_SECRETS);
  return [...current, ...previous].map((secret) => secret.key);
}

/** Whether the step of `event` passes `filter`; no filter passes every step. */
export function matchesFilter(filter: EndpointFilter | null, event: StepCompletedEvent): boolean {
  if (!filter) return true;
  const anyOf = (values: string[] | undefined, value: string | null) =>
    values === undefined || (value !== null && values.includes(value));
  return (
    anyOf(filter.statuses, event.status) &&
    anyOf(filter.agent_ids, event.agentId) &&
    anyOf(filter.project_ids, event.projectId) &&
    anyOf(filter.run_ids, event.runId) &&
    (filter.tags === undefined || filter.tags.every((tag) => event.tags.includes(tag)))
  );
}

/** The raw key bytes of a `whsec_<base64>` secret. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/**
 * The environment's receiver URL as it may be shown: scheme, host and path. Credentials in it and
 * its query (where tokens tend to live) are never shown.
 */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
}
