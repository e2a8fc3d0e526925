import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource, EntityManager, In } from 'typeorm';
import { applyCursorPage, PageQuery } from '../common/cursor-page.js';
import { TransactionRunner } from '../database/transaction-runner.js';
import { StephookMetrics } from '../metrics/stephook-metrics.js';
import { DeliveryAttempt } from './entities/delivery-attempt.entity.js';
import { DeliveryStatus, WebhookDelivery } from './entities/webhook-delivery.entity.js';
import type { AttemptResult } from './webhook-sender.js';

/** `msg_` and 32 hex digits: the delivery id, sent as `webhook-id`. */
export const DELIVERY_ID_PATTERN = /^msg_[0-9a-f]{32}$/;

export function newDeliveryId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

export type DeliveryWithAttempts = WebhookDelivery & { attempts: DeliveryAttempt[] };

/** What an attempt leads to: done, given up, or another try at `nextAttemptAt`. */
export type DeliveryVerdict =
  | { status: 'delivered' }
  | { status: 'failed'; schedulePosition: number }
  | { status: 'pending'; schedulePosition: number; nextAttemptAt: Date };

/**
 * Every read and write of deliveries and their attempts. The database is the only source of truth:
 * what is pending, what is due, and who holds an attempt (a lease that simply runs out if its
 * process dies), so any number of dispatchers can share it.
 */
@Injectable()
export class DeliveryStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly metrics: StephookMetrics,
  ) {}

  /** Called inside the transaction that completes the step. */
  async createPending(
    manager: EntityManager,
    stepId: string,
    payload: string,
    now: Date,
  ): Promise<string> {
    const at = now.toISOString();
    const id = newDeliveryId();
    await manager.insert(WebhookDelivery, {
      id,
      stepId,
      status: 'pending',
      payload,
      attemptCount: 0,
      schedulePosition: 0,
      nextAttemptAt: at,
      leaseUntil: null,
      createdAt: at,
      updatedAt: at,
    });
    this.metrics.backlogChanged();
    return id;
  }

  /**
   * Takes the delivery for one attempt, until `leaseUntil`. A scheduled claim needs it pending and
   * due; a manual one takes it in any state. Null when someone else holds it or it is not eligible.
   */
  async claim(
    id: string,
    now: Date,
    leaseUntil: Date,
    manual = false,
  ): Promise<WebhookDelivery | null> {
    return this.transactions.run(async (manager) => {
      const at = now.toISOString();
      const update = manager
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({ leaseUntil: leaseUntil.toISOString() })
        .where('id = :id', { id })
        .andWhere(
          new Brackets((free) =>
            free.where('lease_until IS NULL').orWhere('lease_until < :at', { at }),
          ),
        );
      if (!manual) update.andWhere("status = 'pending' AND next_attempt_at <= :at", { at });
      const { affected } = await update.execute();
      return affected ? manager.findOneBy(WebhookDelivery, { id }) : null;
    });
  }

  /** Records the attempt and the delivery's next state together, and gives up the lease. */
  async recordAttempt(
    delivery: WebhookDelivery,
    startedAt: Date,
    result: AttemptResult,
    verdict: DeliveryVerdict,
  ): Promise<void> {
    await this.transactions.run(async (manager) => {
      const number = delivery.attemptCount + 1;
      await manager.insert(DeliveryAttempt, {
        deliveryId: delivery.id,
        number,
        startedAt: startedAt.toISOString(),
        durationMs: result.durationMs,
        statusCode: result.statusCode,
        outcome: result.outcome,
        error: result.error,
        responseBody: result.responseSnippet,
      });
      const now = new Date().toISOString();
      await manager.update(WebhookDelivery, delivery.id, {
        status: verdict.status,
        attemptCount: number,
        schedulePosition:
          verdict.status === 'delivered' ? delivery.schedulePosition : verdict.schedulePosition,
        nextAttemptAt: verdict.status === 'pending' ? verdict.nextAttemptAt.toISOString() : null,
        leaseUntil: null,
        lastOutcome: result.outcome,
        lastStatusCode: result.statusCode,
        lastError: result.error,
        updatedAt: now,
        deliveredAt: verdict.status === 'delivered' ? now : delivery.deliveredAt,
      });
    });
    this.metrics.backlogChanged();
  }

  /** Ids of pending deliveries due by `now` and not held, oldest due first: one page, never all. */
  async findDue(now: Date, limit: number): Promise<string[]> {
    const at = now.toISOString();
    const rows = await this.dataSource
      .getRepository(WebhookDelivery)
      .createQueryBuilder('d')
      .select('d.id', 'id')
      .where("d.status = 'pending' AND d.next_attempt_at <= :at", { at })
      .andWhere(
        new Brackets((free) =>
          free.where('d.lease_until IS NULL').orWhere('d.lease_until < :at', { at }),
        ),
      )
      .orderBy('d.next_attempt_at', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string }>();
    return rows.map((row) => row.id);
  }

  async findPendingIdsForStep(stepId: string): Promise<string[]> {
    const rows = await this.dataSource
      .getRepository(WebhookDelivery)
      .find({ select: { id: true }, where: { stepId, status: 'pending' } });
    return rows.map((row) => row.id);
  }

  /** When the earliest pending delivery falls due (now or in the past when one is waiting). */
  async nextDueAt(): Promise<Date | null> {
    const row = await this.dataSource
      .getRepository(WebhookDelivery)
      .createQueryBuilder('d')
      .select('MIN(d.next_attempt_at)', 'due')
      .where("d.status = 'pending'")
      .getRawOne<{ due: string | null }>();
    return row?.due ? new Date(row.due) : null;
  }

  /** Frees every lease: only for a database that this one process alone dispatches from. */
  async releaseAllLeases(): Promise<number> {
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

  /** Every `failed` delivery created since `since` goes back to `pending` with a fresh schedule. */
  async requeueFailedSince(since: string): Promise<number> {
    return this.transactions.run(async (manager) => {
      const now = new Date().toISOString();
      const { affected } = await manager
        .createQueryBuilder()
        .update(WebhookDelivery)
        .set({ status: 'pending', schedulePosition: 0, nextAttemptAt: now, updatedAt: now })
        .where("status = 'failed' AND created_at >= :since", { since })
        .execute();
      this.metrics.backlogChanged();
      return affected ?? 0;
    });
  }

  async findOne(id: string): Promise<DeliveryWithAttempts | null> {
    const delivery = await this.dataSource.getRepository(WebhookDelivery).findOneBy({ id });
    return delivery ? (await this.withAttempts([delivery]))[0] : null;
  }

  async findForStep(stepId: string): Promise<DeliveryWithAttempts[]> {
    const deliveries = await this.dataSource
      .getRepository(WebhookDelivery)
      .find({ where: { stepId }, order: { createdAt: 'ASC', id: 'ASC' } });
    return this.withAttempts(deliveries);
  }

  async list(query: PageQuery & { status?: DeliveryStatus }): Promise<WebhookDelivery[]> {
    const builder = this.dataSource.getRepository(WebhookDelivery).createQueryBuilder('d');
    if (query.status) builder.where('d.status = :status', { status: query.status });
    return (await applyCursorPage(builder, query)).getMany();
  }

  private async withAttempts(deliveries: WebhookDelivery[]): Promise<DeliveryWithAttempts[]> {
    if (deliveries.length === 0) return [];
    const attempts = await this.dataSource.getRepository(DeliveryAttempt).find({
      where: { deliveryId: In(deliveries.map((delivery) => delivery.id)) },
      order: { number: 'ASC' },
    });
    return deliveries.map((delivery) =>
      Object.assign(delivery, {
        attempts: attempts.filter((attempt) => attempt.deliveryId === delivery.id),
      }),
    );
  }
}
