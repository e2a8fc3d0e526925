import type { EntityManager } from 'typeorm';
import { isPostgres, queryRows } from '../../database/raw-sql.js';
import type { AttemptResult } from '../sender/webhook-sender.js';
import type { Endpoint } from './endpoint.js';

/**
 * Attempts in a row that did not reach a receiver able to take them (timed out, could not connect,
 * or answered 429 or 5xx) before an endpoint's breaker opens.
 */
export const BREAKER_OPENS_AFTER = 5;
/**
 * The pause before the next probe of an open breaker: half as long as it has been open, from the
 * min (the first probe) to the max — so a short outage is noticed within a second or two, and a
 * receiver down for an hour costs one attempt every 30 s.
 */
export const PROBE_SPACING_MIN_MS = 1_000;
export const PROBE_SPACING_MAX_MS = 30_000;

export function probeSpacing(openedAt: number, now: number): number {
  // Whole milliseconds: the column is an integer (bigint), and PostgreSQL refuses a fraction.
  return Math.min(
    PROBE_SPACING_MAX_MS,
    Math.max(PROBE_SPACING_MIN_MS, Math.round((now - openedAt) / 2)),
  );
}
/**
 * How far a rate-limited endpoint may catch up after a pause, as time: with `rate_limit` r, at most
 * 1 + r × 0.25 attempts start at once. Small enough that a receiver never sees a burst of a whole
 * second's attempts, large enough that claims a few ms late do not lose attempts.
 */
export const RATE_BURST_MS = 250;

/** An endpoint's circuit breaker as every view shows it (SPEC §9 "Isolation"). */
export interface BreakerView {
  state: 'closed' | 'open';
  /** When it opened; null while closed. */
  opened_at: string | null;
  /** Attempts in a row that timed out, could not connect or got 429/5xx (any other answer resets it). */
  unreachable_attempts: number;
  /** While open: when the next probe may start. */
  next_probe_at: string | null;
}

export const CLOSED_BREAKER: BreakerView = {
  state: 'closed',
  opened_at: null,
  unreachable_attempts: 0,
  next_probe_at: null,
};

interface ThrottleRow {
  endpoint_id: string;
  rate_next_at: string | number;
  unreachable_attempts: number | string;
  breaker_opened_at: string | null;
  probe_at: string | number | null;
}

/** The breakers of these endpoints (closed for those without a row). */
export async function readBreakers(
  manager: EntityManager,
  endpointIds: readonly string[],
): Promise<Map<string, BreakerView>> {
  const breakers = new Map<string, BreakerView>();
  if (endpointIds.length === 0) return breakers;
  const rows = await manager.query<ThrottleRow[]>(
    `SELECT endpoint_id, unreachable_attempts, breaker_opened_at, probe_at
       FROM webhook_endpoint_throttles
      WHERE endpoint_id IN (${endpointIds.map((_, index) => placeholder(manager, index)).join(', ')})`,
    [...endpointIds],
  );
  for (const row of rows) breakers.set(row.endpoint_id, breakerOf(row));
  for (const id of endpointIds) if (!breakers.has(id)) breakers.set(id, CLOSED_BREAKER);
  return breakers;
}

function placeholder(manager: EntityManager, index: number): string {
  return isPostgres(manager) ? `$${index + 1}` : '?';
}

function breakerOf(row: ThrottleRow): BreakerView {
  const open = row.breaker_opened_at !== null;
  return {
    state: open ? 'open' : 'closed',
    opened_at: row.breaker_opened_at,
    unreachable_attempts: Number(row.unreachable_attempts),
    next_probe_at:
      open && row.probe_at !== null ? new Date(Number(row.probe_at)).toISOString() : null,
  };
}

/** What a claim may take of one gated endpoint right now, and how to account for what it took. */
export interface Grant {
  endpointId: string;
  granted: number;
  /** When more may be granted (a token or a probe frees); null: as soon as asked. */
  moreAt: number | null;
  /** The breaker turned out closed in the database (this process had not heard yet). */
  breakerClosed: boolean;
  /** The breaker is open: what is granted is its one probe. */
  probe: boolean;
  /** Writes what a claim of `taken` deliveries used. */
  spend(manager: EntityManager, taken: number, probeLeaseUntil: number): Promise<void>;
}

/**
 * Inside a claim's transaction: locks the throttle rows of `wanted`'s endpoints (in id order, the
 * lock order) and grants each what its rate limit and breaker allow now, at most what is wanted.
 * Only endpoints with a rate limit or an open breaker need this; the rest are granted by the
 * process alone.
 */
export async function grantGated(
  manager: EntityManager,
  wanted: { endpoint: Endpoint; count: number }[],
  now: number,
): Promise<Grant[]> {
  if (wanted.length === 0) return [];
  const ordered = [...wanted].sort((a, b) => compare(a.endpoint.id, b.endpoint.id));
  const ids = ordered.map(({ endpoint }) => endpoint.id);
  await queryRows(
    manager,
    `INSERT INTO webhook_endpoint_throttles (endpoint_id, rate_next_at, unreachable_attempts)
     VALUES ${ids.map((_, index) => `(:id${index}, 0, 0)`).join(', ')}
     ON CONFLICT (endpoint_id) DO NOTHING`,
    Object.fromEntries(ids.map((id, index) => [`id${index}`, id])),
  );
  const rows = await queryRows(
    manager,
    `SELECT endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at
       FROM webhook_endpoint_throttles WHERE endpoint_id IN (:...ids)
      ORDER BY endpoint_id ${isPostgres(manager) ? 'FOR UPDATE' : ''}`,
    { ids },
  );
  const byId = new Map(rows.map((row) => [row.endpoint_id as string, row as ThrottleRow]));
  return ordered.map(({ endpoint, count }) =>
    grantOne(endpoint, count, byId.get(endpoint.id)!, now),
  );
}

function grantOne(endpoint: Endpoint, wanted: number, row: ThrottleRow, now: number): Grant {
  let granted = wanted;
  let moreAt: number | null = null;
  const open = row.breaker_opened_at !== null;
  const probeAt = row.probe_at === null ? 0 : Number(row.probe_at);
  if (open) {
    // One probe at a time: the next may start once the last has been answered and spaced.
    if (probeAt > now) {
      granted = 0;
      moreAt = probeAt;
    } else {
      granted = Math.min(granted, 1);
    }
  }
  let rateStart = 0;
  const interval = endpoint.rateLimit ? 1000 / endpoint.rateLimit : 0;
  if (interval > 0) {
    // GCRA: attempts start `interval` apart, catching up at most RATE_BURST_MS after a pause.
    rateStart = Math.max(Number(row.rate_next_at), now - RATE_BURST_MS);
    const available = rateStart > now ? 0 : Math.floor((now - rateStart) / interval) + 1;
    if (available < granted) {
      granted = available;
      const nextFree = rateStart + available * interval;
      moreAt = moreAt === null ? nextFree : Math.max(moreAt, nextFree);
    }
  }
  return {
    endpointId: endpoint.id,
    granted,
    moreAt: moreAt === null ? null : Math.ceil(moreAt),
    breakerClosed: !open && endpoint.breakerOpen,
    probe: open,
    spend: async (manager, taken, probeLeaseUntil) => {
      if (taken === 0) return;
      await queryRows(
        manager,
        `UPDATE webhook_endpoint_throttles
            SET rate_next_at = ${interval > 0 ? ':rateNextAt' : 'rate_next_at'},
                probe_at = ${open ? ':probeAt' : 'probe_at'}
          WHERE endpoint_id = :id`,
        {
          id: endpoint.id,
          rateNextAt: Math.ceil(rateStart + taken * interval),
          // While the probe is out no other may start; its record spaces the next one.
          probeAt: probeLeaseUntil,
        },
      );
    },
  };
}

/**
 * Whether an attempt reached a receiver able to take it: any answer did, but for 429 and 5xx
 * (overloaded or down: a receiver answering 503 at once would otherwise cost attempts as fast as
 * steps arrive); a timeout or no connection did not. What counts towards opening the breaker.
 */
export function reachedReceiver(result: Pick<AttemptResult, 'outcome' | 'statusCode'>): boolean {
  if (result.outcome === 'success') return true;
  if (result.outcome !== 'http_error' || result.statusCode === null) return false;
  return result.statusCode !== 429 && result.statusCode < 500;
}

export interface Reachability {
  endpointId: string;
  reached: boolean;
  /** Made while the breaker was open (granted as its one probe). */
  probe: boolean;
}

/**
 * Inside the transaction that records attempts, after the endpoints' health rows (the lock order):
 * each endpoint's run of unreachable attempts, and its breaker — opened after BREAKER_OPENS_AFTER in
 * a row, the next probe spaced (`probeSpacing`) after each that fails, closed by any answer. Which breakers opened
 * and which closed (the caller bumps the endpoints' revision so every process hears).
 */
export async function recordReachability(
  manager: EntityManager,
  outcomes: Reachability[],
  now: number,
): Promise<{ opened: string[]; closed: string[] }> {
  const changes = new Map<
    string,
    { reached: boolean; unreachableAfter: number; probeFailed: boolean }
  >();
  for (const { endpointId, reached, probe } of outcomes) {
    const change = changes.get(endpointId) ?? {
      reached: false,
      unreachableAfter: 0,
      probeFailed: false,
    };
    if (reached) {
      change.reached = true;
      change.unreachableAfter = 0;
      change.probeFailed = false;
    } else {
      change.unreachableAfter += 1;
      change.probeFailed ||= probe;
    }
    changes.set(endpointId, change);
  }
  const unreachable = [...changes].filter(([, change]) => change.unreachableAfter > 0);
  const reachedOnly = [...changes].filter(([, change]) => change.unreachableAfter === 0);
  const opened: string[] = [];
  const closed: string[] = [];
  if (changes.size === 0) return { opened, closed };
  // The rows that may change, locked in id order: those with unreachable attempts now, and those
  // that had some that an answer now ends (none, in normal running: one cheap read per batch).
  const conditions = [
    unreachable.length > 0 ? 'endpoint_id IN (:...unreachable)' : null,
    reachedOnly.length > 0 ? '(endpoint_id IN (:...reached) AND unreachable_attempts > 0)' : null,
  ].filter((condition) => condition !== null);
  const rows = await queryRows(
    manager,
    `SELECT endpoint_id, unreachable_attempts, breaker_opened_at, probe_at
       FROM webhook_endpoint_throttles WHERE ${conditions.join(' OR ')}
      ORDER BY endpoint_id ${isPostgres(manager) ? 'FOR UPDATE' : ''}`,
    { unreachable: unreachable.map(([id]) => id), reached: reachedOnly.map(([id]) => id) },
  );
  const current = new Map(rows.map((row) => [row.endpoint_id as string, row as ThrottleRow]));
  const touched = [...changes]
    .filter(([id, change]) => change.unreachableAfter > 0 || current.has(id))
    .sort(([a], [b]) => compare(a, b));
  for (const [endpointId, change] of touched) {
    const row = current.get(endpointId);
    const wasOpen = row?.breaker_opened_at != null;
    const before = change.reached ? 0 : Number(row?.unreachable_attempts ?? 0);
    const count = before + change.unreachableAfter;
    const open = count >= BREAKER_OPENS_AFTER;
    const openedAt = open ? (wasOpen ? row.breaker_opened_at! : new Date(now).toISOString()) : null;
    // The first probe a little after opening; after a probe that failed, spaced; attempts that
    // were already on the wire when it opened leave the next probe where it was.
    const probeAt = !open
      ? null
      : !wasOpen
        ? now + PROBE_SPACING_MIN_MS
        : change.probeFailed
          ? now + probeSpacing(Date.parse(openedAt!), now)
          : Number(row.probe_at ?? now);
    await queryRows(
      manager,
      `INSERT INTO webhook_endpoint_throttles
         (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
       VALUES (:endpointId, 0, :count, :openedAt, :probeAt)
       ON CONFLICT (endpoint_id) DO UPDATE
         SET unreachable_attempts = :count, breaker_opened_at = :openedAt, probe_at = :probeAt`,
      { endpointId, count, openedAt, probeAt },
    );
    if (open && !wasOpen) opened.push(endpointId);
    if (!open && wasOpen) closed.push(endpointId);
  }
  return { opened, closed };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
