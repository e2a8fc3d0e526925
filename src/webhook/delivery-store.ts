import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import type { WebhookConfig } from '../config/webhook.config.js';
import { isDatabaseUnavailable } from '../database/database-unavailable.js';
import { PreparedStatement } from '../database/prepared-statements.js';
import { isPostgres, queryRows } from '../database/raw-sql.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { StephookMetrics } from '../metrics/stephook-metrics.js';
import type { DeliveryRef } from './entities/webhook-delivery.entity.js';
import type { DeliveryVerdict } from './dispatch/retry-policy.js';
import { newDeliveryId } from './delivery-id.js';
import { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import type { DeliveryStatus } from './entities/webhook-delivery.entity.js';
import { ENV_ENDPOINT_ID } from './endpoints/endpoint.js';
import type { Endpoint } from './endpoints/endpoint.js';
import { grantGated, reachedReceiver } from './endpoints/endpoint-throttles.js';
import { EndpointHealth } from './endpoints/endpoint-health.js';
import type { HealthChanges } from './endpoints/endpoint-health.js';
import { readEndpointStates } from './endpoints/endpoint-locks.js';
import type { AttemptResult } from './sender/webhook-sender.js';
import { WEBHOOK_CONFIG } from '../config/stephook-config.module.js';
import { errorMessage } from '../common/error-message.js';
import { projectColumnCondition } from '../common/project-scope.js';
import type { ProjectScope } from '../common/project-scope.js';

/**
 * The most attempts one record transaction writes: on SQLite it holds the only connection while it
 * runs, and a terminal call or a first attempt's claim waits for it.
 */
const RECORD_BATCH_MAX = 64;
/** Pauses between writes of results kept through an outage: from this, doubling up to the max. */
const RECORD_RETRY_MIN_MS = 250;
const RECORD_RETRY_MAX_MS = 5_000;

/** Conditions shared by the claims: due for an attempt, and held by no live lease. */
const FREE = '(lease_until IS NULL OR lease_until < :at)';

/** Every column of `webhook_deliveries`: what a claim reads back. */
const DELIVERY_COLUMNS = `id, step_id, project_id, endpoint_id, status, payload, attempt_count,
  schedule_position, next_attempt_at, lease_until, last_outcome, last_status_code, last_error,
  created_at, updated_at, delivered_at, trace_parent`;

/** How many shapes of the fair claim keep their prepared statement. */
const CLAIM_SHAPES_KEPT = 64;

/** One delivery of a transition (SQLite, once per endpoint). */
const INSERT_DELIVERY = new PreparedStatement(
  'insert_delivery',
  `INSERT INTO webhook_deliveries
     (id, step_id, project_id, endpoint_id, status, payload, attempt_count, schedule_position,
      next_attempt_at, created_at, updated_at, trace_parent)
   VALUES (:id, :stepId, :projectId, :endpointId, :status, :payload, 0, 0, :at, :at, :at,
           :traceParent)`,
);

/** Every delivery of a transition in one round trip (PostgreSQL: one array per column). */
const INSERT_DELIVERIES = new PreparedStatement(
  'insert_deliveries',
  `INSERT INTO webhook_deliveries
     (id, step_id, project_id, endpoint_id, status, payload, attempt_count, schedule_position,
      next_attempt_at, created_at, updated_at, trace_parent)
   SELECT d.id, :stepId, :projectId, d.endpoint_id, d.status, d.payload, 0, 0, :at, :at, :at, :traceParent
     FROM unnest(CAST(:ids AS varchar[]), CAST(:endpointIds AS varchar[]),
                 CAST(:statuses AS varchar[]), CAST(:payloads AS text[]))
          AS d (id, endpoint_id, status, payload)`,
);

/**
 * A manual attempt's claim: one guarded UPDATE both picks and leases, so no other claim can slip in
 * between (on PostgreSQL a competing UPDATE re-checks the lease on the row it waited for and leaves
 * it). The lease is what makes an attempt exclusive: it is set only where none is held, and runs out
 * if its process dies.
 */
const CLAIM_ONE = new PreparedStatement<DeliveryRow>(
  'claim_one',
  `UPDATE webhook_deliveries SET lease_until = :lease
    WHERE id = :id AND ${FREE}
    RETURNING ${DELIVERY_COLUMNS}`,
);

/** A row of DELIVERY_COLUMNS, as both drivers give it (every column is text or an integer). */
interface DeliveryRow {
  id: string;
  step_id: string;
  project_id: string | null;
  endpoint_id: string;
  status: DeliveryStatus;
  payload: string;
  attempt_count: number;
  schedule_position: number;
  next_attempt_at: string | null;
  lease_until: string | null;
  last_outcome: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  trace_parent: string | null;
}

/** A row of DELIVERY_COLUMNS as the delivery it is. */
function deliveryFromRow(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    stepId: row.step_id,
    projectId: row.project_id,
    endpointId: row.endpoint_id,
    status: row.status,
    payload: row.payload,
    attemptCount: row.attempt_count,
    schedulePosition: row.schedule_position,
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
    lastOutcome: row.last_outcome,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
    traceParent: row.trace_parent,
  };
}

/**
 * Every write of deliveries and their attempts, and the claims. The database is the only source of
 * truth: what is pending, what is due, and who holds an attempt (a lease that simply runs out if its
 * process dies), so any number of dispatchers can share it. What operators read is in
 * `deliveries/delivery-reads.ts`.
 */
@Injectable()
export class DeliveryStore {
  private readonly logger = new Logger(DeliveryStore.name);
  private readonly unrecorded: UnrecordedAttempt[] = [];
  /** How many of the kept results the write under way holds. */
  private recording = 0;
  private recordingScheduled = false;
  /** The pause before writing kept results again; 0 while writes go through. */
  private recordRetryMs = 0;
  /** Kept results are written one per transaction (see recordBatch). */
  private oneAtATime = false;
  private readonly dialect: string;
  /** The fair claim's statements, by text (`claimStatement`). */
  private readonly claimStatements = new Map<string, PreparedStatement<DeliveryRow>>();
  /**
   * Part of "pending and due" (`due()`): the environment endpoint's deliveries wait while
   * STEP_COMPLETE_WEBHOOK is unset (a later start with it set sends them).
   */
  private readonly envOff: string;

  constructor(
    @InjectRepository(WebhookDelivery) private readonly deliveries: Repository<WebhookDelivery>,
    @Inject(WEBHOOK_CONFIG) config: WebhookConfig,
    private readonly transactions: TransactionRunner,
    private readonly metrics: StephookMetrics,
    private readonly health: EndpointHealth,
  ) {
    this.dialect = deliveries.manager.connection.options.type;
    this.envOff = config.url ? '' : ` AND endpoint_id <> '${ENV_ENDPOINT_ID}'`;
  }

  /**
   * Called inside the transaction that completes the step: its deliveries, one per endpoint, commit
   * with it — `pending`, or `held` for an endpoint that is disabled — each carrying the step's
   * project. `traceParent`: the W3C trace context their attempts' spans continue (null while
   * tracing is off).
   */
  async create(
    manager: EntityManager,
    step: { id: string; projectId: string | null },
    deliveries: NewDelivery[],
    now: Date,
    traceParent: string | null = null,
  ): Promise<void> {
    const at = now.toISOString();
    const rows = deliveries.map((delivery) => ({
      id: newDeliveryId(),
      endpointId: delivery.endpointId,
      status: delivery.held ? 'held' : 'pending',
      payload: delivery.payload,
    }));
    if (isPostgres(manager)) {
      await INSERT_DELIVERIES.rows(manager, {
        stepId: step.id,
        projectId: step.projectId,
        at,
        traceParent,
        ids: rows.map((row) => row.id),
        endpointIds: rows.map((row) => row.endpointId),
        statuses: rows.map((row) => row.status),
        payloads: rows.map((row) => row.payload),
      });
    } else {
      // No round trip on SQLite: one prepared row insert per endpoint costs less than a new text.
      for (const row of rows)
        await INSERT_DELIVERY.rows(manager, {
          ...row,
          stepId: step.id,
          projectId: step.projectId,
          at,
          traceParent,
        });
    }
    this.metrics.backlogChanged();
  }

  /**
   * A claimed delivery whose endpoint, as this process last read it, is disabled or gone: settled
   * from the endpoint's committed row, under its lock (`endpoint-locks.ts`) — `held` while it is
   * disabled, `failed` with `deletedReason` once it is gone, or left `pending` and due when it was
   * enabled meanwhile (this process is behind). Gives up the lease. The state it was left in.
   */
  async setAside(delivery: WebhookDelivery, deletedReason: string): Promise<DeliveryStatus> {
    const status = await this.transactions.run(async (manager) => {
      const state = (await readEndpointStates(manager, [delivery.endpointId])).get(
        delivery.endpointId,
      );
      const status: DeliveryStatus = !state ? 'failed' : state.disabled ? 'held' : 'pending';
      await queryRows(
        manager,
        // Only a pending delivery changes state (an operator's retry may have claimed any).
        `UPDATE webhook_deliveries
            SET status = CASE WHEN status = 'pending' THEN :status ELSE status END,
                last_error = CASE WHEN status = 'pending' THEN COALESCE(:reason, last_error)
                                  ELSE last_error END,
                next_attempt_at = CASE WHEN status = 'pending' AND :status = 'failed' THEN NULL
                                       ELSE next_attempt_at END,
                lease_until = NULL, updated_at = :now
          WHERE id = :id`,
        {
          id: delivery.id,
          status,
          reason: status === 'failed' ? deletedReason : null,
          now: new Date().toISOString(),
        },
      );
      return status;
    });
    this.metrics.backlogChanged();
    return status;
  }

  /** An endpoint was disabled: its pending deliveries wait as `held`. How many. */
  async holdPending(manager: EntityManager, endpointId: string, now: Date): Promise<number> {
    return (await this.moveEndpointDeliveries(manager, endpointId, 'pending', 'held', null, now))
      .length;
  }

  /** An endpoint was enabled: its held deliveries are pending again, oldest due first. */
  releaseHeld(manager: EntityManager, endpointId: string, now: Date): Promise<DeliveryRef[]> {
    return this.moveEndpointDeliveries(manager, endpointId, 'held', 'pending', null, now);
  }

  /** An endpoint was deleted: what it had not received ends as `failed` with `reason`. How many. */
  async failUndelivered(
    manager: EntityManager,
    endpointId: string,
    reason: string,
    now: Date,
  ): Promise<number> {
    const pending = await this.moveEndpointDeliveries(
      manager,
      endpointId,
      'pending',
      'failed',
      reason,
      now,
    );
    const held = await this.moveEndpointDeliveries(
      manager,
      endpointId,
      'held',
      'failed',
      reason,
      now,
    );
    return pending.length + held.length;
  }

  private async moveEndpointDeliveries(
    manager: EntityManager,
    endpointId: string,
    from: DeliveryStatus,
    to: DeliveryStatus,
    reason: string | null,
    now: Date,
  ): Promise<DeliveryRef[]> {
    const rows = await queryRows(
      manager,
      `UPDATE webhook_deliveries
          SET status = :to, updated_at = :now, last_error = COALESCE(:reason, last_error),
              next_attempt_at = ${to === 'failed' ? 'NULL' : 'next_attempt_at'}
        WHERE endpoint_id = :endpointId AND status = :from
        RETURNING id, attempt_count`,
      { endpointId, from, to, reason, now: now.toISOString() },
    );
    this.metrics.backlogChanged();
    return rows.map((row) => ({ id: row.id as string, attemptCount: Number(row.attempt_count) }));
  }

  /**
   * Repairs what a fault may have left (SPEC §9 "Nothing is stranded"), whatever wrote it: held
   * deliveries of enabled endpoints are released, pending ones of disabled endpoints held, and those
   * of deleted endpoints end as `failed` with `deletedReason`. Endpoint rows are read under their
   * shared lock, so an endpoint change in progress is waited for, not undone. What was released.
   */
  async reconcile(
    deletedReason: string,
    now: Date,
  ): Promise<{ released: DeliveryRef[]; held: number; failed: number }> {
    return this.transactions.run(async (manager) => {
      const lock = isPostgres(manager) ? 'FOR KEY SHARE' : '';
      const move = (from: string, to: string, endpoints: string, reason: string | null) =>
        queryRows(
          manager,
          `UPDATE webhook_deliveries
              SET status = '${to}', updated_at = :now, last_error = COALESCE(:reason, last_error),
                  next_attempt_at = ${to === 'failed' ? 'NULL' : 'next_attempt_at'}
            WHERE status = '${from}' AND ${endpoints}
            RETURNING id, attempt_count`,
          { now: now.toISOString(), reason },
        );
      const released = await move(
        'held',
        'pending',
        `endpoint_id IN (SELECT id FROM webhook_endpoints WHERE NOT disabled ${lock})`,
        null,
      );
      const held = await move(
        'pending',
        'held',
        `endpoint_id IN (SELECT id FROM webhook_endpoints WHERE disabled ${lock})`,
        null,
      );
      const gone = `endpoint_id <> '${ENV_ENDPOINT_ID}'
        AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = endpoint_id)`;
      const failed =
        (await move('pending', 'failed', gone, deletedReason)).length +
        (await move('held', 'failed', gone, deletedReason)).length;
      // An attempt recorded after its endpoint was deleted leaves a throttle row behind.
      await queryRows(
        manager,
        `DELETE FROM webhook_endpoint_throttles
          WHERE endpoint_id <> '${ENV_ENDPOINT_ID}'
            AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = endpoint_id)`,
      );
      if (released.length + held.length + failed > 0) this.metrics.backlogChanged();
      return {
        released: released.map((row) => ({
          id: row.id as string,
          attemptCount: Number(row.attempt_count),
        })),
        held: held.length,
        failed,
      };
    });
  }

  /**
   * Takes one delivery for a manual attempt, whatever its state, until `leaseUntil`. Null when an
   * attempt holds it already or it does not exist.
   */
  async claimAny(id: string, now: Date, leaseUntil: Date): Promise<WebhookDelivery | null> {
    const [claimed] = await this.transactions.runStatement((manager) =>
      CLAIM_ONE.rows(manager, { id, at: now.toISOString(), lease: leaseUntil.toISOString() }),
    );
    return claimed ? deliveryFromRow(claimed) : null;
  }

  /**
   * Takes due and free deliveries across endpoints in turn (SPEC §9 "Isolation"): each endpoint's
   * oldest due first, at most its room, the first of every endpoint before the second of any, up
   * to `limit` in all — one statement, however many endpoints. Endpoints with a rate limit or an
   * open breaker are granted by their shared throttle rows first, in the same transaction. What it
   * took, how many of each endpoint, and when a gated endpoint may be granted more.
   */
  async claimFair(claim: FairClaim): Promise<FairClaimResult> {
    const rooms = new Map(claim.rooms);
    // A step's first attempts are waited for; backlogs and retries are not.
    const lane = claim.stepIds ? 'urgent' : 'background';
    if (claim.gated.length === 0) {
      const claimed = await this.transactions.runStatement(
        (manager) => this.claimInTurn(manager, claim, rooms),
        lane,
      );
      return {
        claimed,
        perEndpoint: countByEndpoint(claimed),
        moreAt: null,
        closedBreakers: [],
        probes: new Set<string>(),
      };
    }
    return this.transactions.run(async (manager) => {
      const now = claim.now.getTime();
      const grants = await grantGated(
        manager,
        claim.gated.map((endpoint) => ({ endpoint, count: rooms.get(endpoint.id) ?? 0 })),
        now,
      );
      for (const grant of grants) rooms.set(grant.endpointId, grant.granted);
      const claimed = await this.claimInTurn(manager, claim, rooms);
      const perEndpoint = countByEndpoint(claimed);
      for (const grant of grants) {
        await grant.spend(
          manager,
          perEndpoint.get(grant.endpointId) ?? 0,
          claim.leaseUntil.getTime(),
        );
      }
      const waits = grants.map((grant) => grant.moreAt).filter((at) => at !== null);
      return {
        claimed,
        perEndpoint,
        moreAt: waits.length > 0 ? Math.min(...waits) : null,
        closedBreakers: grants
          .filter((grant) => grant.breakerClosed)
          .map((grant) => grant.endpointId),
        probes: new Set(
          grants
            .filter((grant) => grant.probe && perEndpoint.has(grant.endpointId))
            .map((grant) => grant.endpointId),
        ),
      };
    }, lane);
  }

  /**
   * The fair claim's statement. `room` lists each endpoint's room; the candidates are, per
   * endpoint, its oldest due and free deliveries (within the claim's scope) — on PostgreSQL locked
   * as they are read, rows another dispatcher is claiming skipped —; each gets its turn among its
   * endpoint's, and the lowest turns win.
   */
  private async claimInTurn(
    manager: EntityManager,
    claim: FairClaim,
    rooms: ReadonlyMap<string, number>,
  ): Promise<WebhookDelivery[]> {
    const scoped = claim.stepIds !== undefined || claim.deliveryId !== undefined;
    // A scoped claim lists every endpoint this process knows (0: no room now); the global one only
    // those with room.
    const entries = [...rooms].filter(([, room]) => scoped || room > 0);
    if ((!scoped && entries.length === 0) || claim.limit <= 0) return [];
    const postgres = isPostgres(manager);
    const parameters: Record<string, unknown> = {
      at: claim.now.toISOString(),
      lease: claim.leaseUntil.toISOString(),
      limit: claim.limit,
      maxRoom: Math.max(1, ...entries.map(([, room]) => room)),
      deliveryId: claim.deliveryId,
    };
    const values = entries.map(([endpointId, room], index) => {
      parameters[`endpoint${index}`] = endpointId;
      parameters[`room${index}`] = room;
      return `(CAST(:endpoint${index} AS varchar(40)), CAST(:room${index} AS integer))`;
    });
    // VALUES needs a row: one that names no endpoint.
    if (values.length === 0) values.push(`(CAST('' AS varchar(40)), CAST(0 AS integer))`);
    const dueAndFree = (alias: string, narrowed: boolean) => {
      const plus = narrowed && !postgres ? '+' : '';
      return `${plus}${alias}.status = 'pending' AND ${plus}${alias}.next_attempt_at <= :at
              AND (${alias}.lease_until IS NULL OR ${alias}.lease_until < :at)`;
    };
    let candidates: string;
    if (scoped) {
      // A few rows, found by step or id: every one of them is a candidate. One of an endpoint this
      // process has not read yet (created elsewhere a moment ago) is taken too, one at a time;
      // the attempt reads the endpoints again before it gives it up as gone.
      const scope = claim.stepIds
        ? `d.step_id IN (${claim.stepIds
            .map((stepId, index) => {
              parameters[`step${index}`] = stepId;
              return `:step${index}`;
            })
            .join(', ')})`
        : 'd.id = :deliveryId';
      candidates = `SELECT d.id, d.endpoint_id, d.next_attempt_at, COALESCE(room.n, 1) AS n
                      FROM webhook_deliveries d LEFT JOIN room ON room.endpoint_id = d.endpoint_id
                     WHERE ${scope} AND ${dueAndFree('d', true)}${this.envOff.replace('endpoint_id', 'd.endpoint_id')}
                     ${postgres ? 'FOR UPDATE OF d SKIP LOCKED' : ''}`;
    } else if (postgres) {
      candidates = `SELECT p.id, p.endpoint_id, p.next_attempt_at, room.n
                      FROM room CROSS JOIN LATERAL (
                        SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries d
                         WHERE d.endpoint_id = room.endpoint_id AND ${dueAndFree('d', false)}
                         ORDER BY d.next_attempt_at LIMIT room.n FOR UPDATE SKIP LOCKED) p`;
    } else {
      // SQLite has no LATERAL and no LIMIT that names an outer column: the largest room, per
      // endpoint through its index, and the turns below keep each endpoint within its own.
      candidates = `SELECT d.id, d.endpoint_id, d.next_attempt_at, room.n
                      FROM room JOIN webhook_deliveries d ON d.id IN (
                        SELECT x.id FROM webhook_deliveries x
                         WHERE x.endpoint_id = room.endpoint_id AND ${dueAndFree('x', false)}
                         ORDER BY x.next_attempt_at LIMIT :maxRoom)`;
    }
    const statement = this.claimStatement(
      `WITH room (endpoint_id, n) AS (VALUES ${values.join(', ')}),
            candidates AS (${candidates}),
            turns AS (
              SELECT id, next_attempt_at, n,
                     ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS turn
                FROM candidates)
       UPDATE webhook_deliveries SET lease_until = :lease
        WHERE id IN (SELECT id FROM turns WHERE turn <= n ORDER BY turn, next_attempt_at LIMIT :limit)
       RETURNING ${DELIVERY_COLUMNS}`,
    );
    const rows = await statement.rows(manager, parameters);
    return rows
      .map(deliveryFromRow)
      .sort((a, b) => a.nextAttemptAt!.localeCompare(b.nextAttemptAt!));
  }

  /**
   * The claim's statement for this shape (how many endpoints, how many steps), prepared once: a
   * dispatcher meets few shapes, and the first attempts of single steps one most of the time.
   */
  private claimStatement(sql: string): PreparedStatement<DeliveryRow> {
    let statement = this.claimStatements.get(sql);
    if (!statement) {
      if (this.claimStatements.size >= CLAIM_SHAPES_KEPT) {
        this.claimStatements.delete(this.claimStatements.keys().next().value!);
      }
      statement = new PreparedStatement<DeliveryRow>('claim', sql);
      this.claimStatements.set(sql, statement);
    }
    return statement;
  }

  /** When the earliest pending delivery due after `now` falls due; null when none is. */
  async nextDueAfter(now: Date): Promise<Date | null> {
    const row = await this.deliveries
      .createQueryBuilder('d')
      .select('d.next_attempt_at', 'due')
      .where(`d.status = 'pending' AND d.next_attempt_at > :now${this.envOff}`, {
        now: now.toISOString(),
      })
      .orderBy('d.next_attempt_at', 'ASC')
      .limit(1)
      .getRawOne<{ due: string | null }>();
    return row?.due ? new Date(row.due) : null;
  }

  /** Whether this delivery is pending, due and free (a queued job that found no room for it). */
  async isDueAndFree(id: string, now: Date): Promise<boolean> {
    const count = await this.deliveries
      .createQueryBuilder('d')
      .where(`d.id = :id AND ${this.due()} AND ${FREE}`, { id, at: now.toISOString() })
      .getCount();
    return count > 0;
  }

  /** These steps' deliveries still pending and free: what a queued step's claim left for later. */
  async unclaimedOfStep(stepId: string, now: Date): Promise<DeliveryRef[]> {
    const rows = await this.deliveries
      .createQueryBuilder('d')
      .select(['d.id', 'd.attemptCount'])
      .where(`d.step_id = :stepId AND d.status = 'pending' AND ${FREE}`, {
        stepId,
        at: now.toISOString(),
      })
      .getMany();
    return rows.map((row) => ({ id: row.id, attemptCount: row.attemptCount }));
  }

  /**
   * Pending deliveries due since before `dueBefore` and held by no lease, oldest first, without
   * claiming them: what a queue sweep re-enqueues in case their job went missing.
   */
  async findUnclaimedDue(
    now: Date,
    dueBefore: Date,
    limit: number,
  ): Promise<Pick<WebhookDelivery, 'id' | 'attemptCount'>[]> {
    return this.deliveries
      .createQueryBuilder('d')
      .select(['d.id', 'd.attemptCount'])
      .where(`${this.due(':dueBefore')} AND ${FREE}`, {
        dueBefore: dueBefore.toISOString(),
        at: now.toISOString(),
      })
      .orderBy('d.next_attempt_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * Records each attempt with its delivery's next state and gives up the lease. Results that come in
   * while a write is under way are committed together in the next transaction (group commit), so a
   * busy dispatcher pays one commit per batch, not one per attempt. An attempt was already sent when
   * it gets here, so a result whose write fails, for whatever reason (the database does not answer,
   * a conflict the transaction runner gave up on, anything else), is kept and written again, with
   * growing pauses, until it is recorded: the promise settles only then, and never rejects. Until
   * it settles the attempt counts as in flight, so this process does not send it again.
   */
  recordAttempt(attempt: SentAttempt): Promise<void> {
    return new Promise((resolve) => {
      this.unrecorded.push({ ...attempt, resolve });
      this.scheduleRecording(0);
    });
  }

  /** Attempts sent whose results are not in the database yet. */
  get unrecordedCount(): number {
    return this.unrecorded.length + this.recording;
  }

  private scheduleRecording(delayMs: number): void {
    if (this.recordingScheduled) return;
    this.recordingScheduled = true;
    const record = () => void this.recordBatch();
    if (delayMs > 0) setTimeout(record, delayMs);
    else setImmediate(record);
  }

  private async recordBatch(): Promise<void> {
    // After a failure that is not an outage, one attempt per transaction, the one that failed going
    // to the back: an attempt that cannot be written then holds back no other.
    const batch = this.unrecorded.splice(0, this.oneAtATime ? 1 : RECORD_BATCH_MAX);
    this.recording = batch.length;
    let retryInMs = 0;
    try {
      const changes = await this.transactions.run(
        (manager) => this.writeBatch(manager, batch),
        'background',
      );
      this.metrics.backlogChanged();
      await this.health.announce(changes);
      for (const attempt of batch) attempt.resolve();
      if (this.recordRetryMs > 0) {
        this.recordRetryMs = 0;
        this.logger.log(`Sent webhook attempts are recorded again (${batch.length} just now)`);
      }
      if (this.unrecorded.length === 0) this.oneAtATime = false;
    } catch (error) {
      const outage = isDatabaseUnavailable(error);
      if (this.recordRetryMs === 0) {
        const why = outage ? 'the database does not answer' : 'the write failed';
        this.logger.warn(
          `${batch.length} webhook attempt(s) were sent but cannot be recorded yet: ${why} ` +
            `(${errorMessage(error)}). Their results are kept and written again until they are ` +
            'recorded; they are not sent again meanwhile',
        );
      }
      this.recordRetryMs = Math.min(
        RECORD_RETRY_MAX_MS,
        Math.max(RECORD_RETRY_MIN_MS, this.recordRetryMs * 2),
      );
      retryInMs = this.recordRetryMs;
      if (this.oneAtATime) this.unrecorded.push(...batch);
      else this.unrecorded.unshift(...batch);
      if (!outage && batch.length > 1) this.oneAtATime = true;
    } finally {
      this.recording = 0;
      this.recordingScheduled = false;
      if (this.unrecorded.length > 0) this.scheduleRecording(retryInMs);
    }
  }

  /**
   * One transaction of attempt records, in the lock order (`endpoint-locks.ts`): the endpoints'
   * health (failing streaks, then breakers) first, then the delivery and attempt rows in id order,
   * then the deliveries of endpoints this batch disabled. What it changed of the endpoints' health.
   */
  private async writeBatch(
    manager: EntityManager,
    batch: UnrecordedAttempt[],
  ): Promise<HealthChanges> {
    const outcomes = batch.map(({ delivery, result, startedAt, probe }) => ({
      endpointId: delivery.endpointId,
      succeeded: result.outcome === 'success',
      probe,
      reached: reachedReceiver(result),
      at: startedAt,
    }));
    const changes = await this.health.record(manager, outcomes);
    const inIdOrder = [...batch].sort((a, b) => compare(a.delivery.id, b.delivery.id));
    for (const attempt of inIdOrder) await writeAttempt(manager, attempt);
    for (const id of changes.disabled) await this.holdPending(manager, id, new Date());
    return changes;
  }

  /**
   * Pending and due for an attempt by `at` (a parameter); the environment endpoint's wait while
   * STEP_COMPLETE_WEBHOOK is unset.
   */
  private due(at = ':at'): string {
    return `status = 'pending' AND next_attempt_at <= ${at}${this.envOff}`;
  }

  /**
   * At the start of a dispatcher on SQLite, where this process is the only one: a lease left behind
   * is a previous run's, cut short by a crash, so it is released now rather than left to run out.
   * How many. On PostgreSQL other live processes hold leases, so none is touched.
   */
  async releaseLeftLeases(): Promise<number> {
    if (this.dialect !== 'better-sqlite3') return 0;
    return this.transactions.run(async (manager) => {
      const { affected } = await manager
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({ leaseUntil: null })
        .where('lease_until IS NOT NULL')
        .execute();
      return affected ?? 0;
    });
  }

  /**
   * Every `failed` delivery created since `since` (of one endpoint, or of all; within `scope`) goes
   * back to `pending` with a fresh schedule; those of deleted endpoints stay failed (nothing to
   * send to).
   */
  async requeueFailedSince(
    since: string,
    endpointId: string | undefined,
    scope: ProjectScope,
  ): Promise<Pick<WebhookDelivery, 'id' | 'attemptCount'>[]> {
    const visible = projectColumnCondition('project_id', scope);
    return this.transactions.run(async (manager) => {
      const now = new Date().toISOString();
      const rows = await queryRows(
        manager,
        `UPDATE webhook_deliveries
            SET status = 'pending', schedule_position = 0, next_attempt_at = :now, updated_at = :now
          WHERE status = 'failed' AND created_at >= :since
                ${endpointId ? 'AND endpoint_id = :endpointId' : ''}
                ${visible ? `AND ${visible.sql}` : ''}
                AND (endpoint_id = '${ENV_ENDPOINT_ID}'
                     OR endpoint_id IN (SELECT id FROM webhook_endpoints))
          RETURNING id, attempt_count`,
        { now, since, endpointId, ...visible?.parameters },
      );
      this.metrics.backlogChanged();
      return rows.map((row) => ({ id: row.id as string, attemptCount: Number(row.attempt_count) }));
    });
  }
}

/** A fair claim (`claimFair`): each endpoint's room, and the claim's scope. */
export interface FairClaim {
  now: Date;
  leaseUntil: Date;
  /** At most this many in all. */
  limit: number;
  /**
   * Each endpoint's room. The global claim takes only endpoints with room; a scoped one (steps, a
   * delivery) also takes one delivery of each endpoint not listed (not read here yet).
   */
  rooms: ReadonlyMap<string, number>;
  /** Of those, the endpoints with a rate limit or an open breaker (granted by throttle rows). */
  gated: readonly Endpoint[];
  /** Only these steps' deliveries (their first attempts). */
  stepIds?: string[];
  /** Only this delivery (a queued attempt). */
  deliveryId?: string;
}

export interface FairClaimResult {
  claimed: WebhookDelivery[];
  perEndpoint: Map<string, number>;
  /** When a gated endpoint that got less than its room may be granted more. */
  moreAt: number | null;
  /** Breakers this process thought open that the database has closed. */
  closedBreakers: string[];
  /** Endpoints whose open breaker let this claim take its one probe. */
  probes: ReadonlySet<string>;
}

function countByEndpoint(deliveries: WebhookDelivery[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { endpointId } of deliveries)
    counts.set(endpointId, (counts.get(endpointId) ?? 0) + 1);
  return counts;
}

/** One delivery of a transition: to which endpoint, with which body, and whether it waits. */
export interface NewDelivery {
  endpointId: string;
  payload: string;
  held: boolean;
}

/** An attempt that was sent, to be recorded with its delivery's next state. */
export interface SentAttempt {
  delivery: WebhookDelivery;
  startedAt: Date;
  result: AttemptResult;
  verdict: DeliveryVerdict;
  /** Its endpoint's breaker was open and this was its probe. */
  probe: boolean;
}

interface UnrecordedAttempt extends SentAttempt {
  resolve: () => void;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Failed while its attempt was on the wire (its endpoint was deleted; an operator's retry claims a
 * delivery that was failed already): it stays failed unless this attempt delivered it. Read from
 * the row as it is when written, so a deletion that committed first is never undone.
 */
const ENDED_MEANWHILE = `status = 'failed' AND :claimedStatus <> 'failed' AND :status <> 'delivered'`;

/**
 * Idempotent, since a batch whose commit went through unseen (the connection broke before the
 * answer) is written again: the delivery is set to the same state, the attempt row inserted once.
 * A delivery that no longer exists (retention removed it while an operator's retry was on the
 * wire) has nothing to record, rather than an attempt that could never be written.
 */
async function writeAttempt(manager: EntityManager, attempt: UnrecordedAttempt): Promise<void> {
  const { delivery, result, verdict } = attempt;
  const number = delivery.attemptCount + 1;
  const now = new Date().toISOString();
  const updated = await RECORD_DELIVERY.rows(manager, {
    id: delivery.id,
    // Held meanwhile (its endpoint was disabled): a retry waits with the rest.
    retry: verdict.status === 'pending' ? 1 : 0,
    claimedStatus: delivery.status,
    status: verdict.status,
    number,
    schedulePosition:
      verdict.status === 'delivered' ? delivery.schedulePosition : verdict.schedulePosition,
    nextAttemptAt: verdict.status === 'pending' ? verdict.nextAttemptAt.toISOString() : null,
    outcome: result.outcome,
    statusCode: result.statusCode,
    error: result.error,
    now,
    deliveredAt: verdict.status === 'delivered' ? now : delivery.deliveredAt,
  });
  if (updated.length === 0) return;
  await INSERT_ATTEMPT.rows(manager, {
    deliveryId: delivery.id,
    number,
    startedAt: attempt.startedAt.toISOString(),
    durationMs: result.durationMs,
    statusCode: result.statusCode,
    outcome: result.outcome,
    error: result.error,
    responseBody: result.responseSnippet,
  });
}

/** A delivery's UPDATE with an attempt's result (`writeAttempt`). */
const RECORD_DELIVERY = new PreparedStatement(
  'record_delivery',
  `UPDATE webhook_deliveries
      SET status = CASE WHEN ${ENDED_MEANWHILE} THEN 'failed'
                        WHEN status = 'held' AND :retry = 1 THEN 'held'
                        ELSE :status END,
          attempt_count = :number, schedule_position = :schedulePosition,
          next_attempt_at = CASE WHEN ${ENDED_MEANWHILE} THEN NULL ELSE :nextAttemptAt END,
          lease_until = NULL, last_outcome = :outcome,
          last_status_code = :statusCode, last_error = :error, updated_at = :now,
          delivered_at = :deliveredAt
    WHERE id = :id
    RETURNING id`,
);

/** The attempt's own row, once however often its batch is written (`writeAttempt`). */
const INSERT_ATTEMPT = new PreparedStatement(
  'insert_attempt',
  `INSERT INTO webhook_delivery_attempts
     (delivery_id, number, started_at, duration_ms, status_code, outcome, error, response_body)
   VALUES (:deliveryId, :number, :startedAt, :durationMs, :statusCode, :outcome, :error, :responseBody)
   ON CONFLICT (delivery_id, number) DO NOTHING`,
);
