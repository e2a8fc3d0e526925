import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { applyCursorPage, PageQuery } from '../../common/cursor-page.js';
import { inScope, projectColumnCondition } from '../../common/project-scope.js';
import type { ProjectScope } from '../../common/project-scope.js';
import { StephookMetrics } from '../../metrics/stephook-metrics.js';
import { DeliveryAttempt } from '../entities/delivery-attempt.entity.js';
import {
  DELIVERY_STATUSES,
  DeliveryStatus,
  WebhookDelivery,
} from '../entities/webhook-delivery.entity.js';

export type DeliveryWithAttempts = WebhookDelivery & { attempts: DeliveryAttempt[] };

export interface DeliveryTotals {
  counts: Record<DeliveryStatus, number>;
  oldestPendingCreatedAt: string | null;
  /** `YYYY-MM-DDTHH:MM` (UTC) → attempts started in that minute, and how many succeeded. */
  attemptsByMinute: Map<string, { attempts: number; succeeded: number }>;
}

export interface EndpointStats {
  counts: Record<DeliveryStatus, number>;
  attempts: number;
  succeeded: number;
  lastFailure: { at: string; error: string | null } | null;
}

/**
 * What operators and the dashboard read about deliveries; nothing here writes. Every read takes the
 * asker's ProjectScope: a delivery is visible to a key bound to projects when its step's project
 * (`project_id`, copied onto the delivery) is one of them; nothing else is counted or listed.
 */
@Injectable()
export class DeliveryReads {
  constructor(
    @InjectRepository(WebhookDelivery) private readonly deliveries: Repository<WebhookDelivery>,
    @InjectRepository(DeliveryAttempt) private readonly attempts: Repository<DeliveryAttempt>,
    metrics: StephookMetrics,
  ) {
    metrics.countBacklogWith(() => this.countByStatus(['pending', 'failed']));
  }

  /** How many deliveries are in each of `statuses`: one grouped count over the status index. */
  async countByStatus<S extends DeliveryStatus>(
    statuses: readonly S[],
    scope: ProjectScope = null,
  ): Promise<Record<S, number>> {
    const builder = this.deliveries
      .createQueryBuilder('d')
      .select('d.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .where('d.status IN (:...statuses)', { statuses });
    whereVisible(builder, scope);
    const rows = await builder.groupBy('d.status').getRawMany<{ status: S; n: string | number }>();
    const counts = Object.fromEntries(statuses.map((status) => [status, 0])) as Record<S, number>;
    for (const row of rows) counts[row.status] = Number(row.n);
    return counts;
  }

  /** Deliveries by state, the oldest pending one's creation, and attempts per minute since `since`. */
  async summary(since: Date, scope: ProjectScope): Promise<DeliveryTotals> {
    const oldest = whereVisible(
      this.deliveries
        .createQueryBuilder('d')
        .select('MIN(d.created_at)', 'oldest')
        .where("d.status = 'pending'"),
      scope,
    );
    const minutes = this.attempts
      .createQueryBuilder('a')
      // ISO text timestamps: the first 16 characters name the minute, on both dialects.
      .select('substr(a.started_at, 1, 16)', 'minute')
      .addSelect('COUNT(*)', 'attempts')
      .addSelect("SUM(CASE WHEN a.outcome = 'success' THEN 1 ELSE 0 END)", 'succeeded')
      .where('a.started_at >= :since', { since: since.toISOString() });
    if (scope !== null)
      whereVisible(minutes.innerJoin(WebhookDelivery, 'd', 'd.id = a.delivery_id'), scope);
    const [counts, oldestRow, minuteRows] = await Promise.all([
      this.countByStatus(DELIVERY_STATUSES, scope),
      oldest.getRawOne<{ oldest: string | null }>(),
      minutes
        .groupBy('substr(a.started_at, 1, 16)')
        .getRawMany<{ minute: string; attempts: string | number; succeeded: string | number }>(),
    ]);
    return {
      counts,
      oldestPendingCreatedAt: oldestRow?.oldest ?? null,
      attemptsByMinute: new Map(
        minuteRows.map((row) => [
          row.minute,
          { attempts: Number(row.attempts), succeeded: Number(row.succeeded) },
        ]),
      ),
    };
  }

  /**
   * One endpoint at a glance: its deliveries by state, its attempts since `since`, and the last of
   * them that failed (of the deliveries within `scope`: an endpoint whose filter was narrowed keeps
   * deliveries of projects it no longer hears).
   */
  async endpointStats(
    endpointId: string,
    since: Date,
    scope: ProjectScope,
  ): Promise<EndpointStats> {
    const [byStatus, attempts, lastFailure] = await Promise.all([
      whereVisible(
        this.deliveries
          .createQueryBuilder('d')
          .select('d.status', 'status')
          .addSelect('COUNT(*)', 'n')
          .where('d.endpoint_id = :endpointId', { endpointId }),
        scope,
      )
        .groupBy('d.status')
        .getRawMany<{ status: DeliveryStatus; n: string | number }>(),
      this.attemptsOf(endpointId, since, scope)
        .select('COUNT(*)', 'attempts')
        .addSelect("SUM(CASE WHEN a.outcome = 'success' THEN 1 ELSE 0 END)", 'succeeded')
        .getRawOne<{ attempts: string | number; succeeded: string | number | null }>(),
      this.attemptsOf(endpointId, since, scope)
        .select(['a.started_at AS at', 'a.error AS error'])
        .andWhere("a.outcome <> 'success'")
        .orderBy('a.started_at', 'DESC')
        .limit(1)
        .getRawOne<{ at: string; error: string | null }>(),
    ]);
    const counts = Object.fromEntries(DELIVERY_STATUSES.map((status) => [status, 0])) as Record<
      DeliveryStatus,
      number
    >;
    for (const row of byStatus) counts[row.status] = Number(row.n);
    return {
      counts,
      attempts: Number(attempts?.attempts ?? 0),
      succeeded: Number(attempts?.succeeded ?? 0),
      lastFailure: lastFailure ? { at: lastFailure.at, error: lastFailure.error } : null,
    };
  }

  private attemptsOf(endpointId: string, since: Date, scope: ProjectScope) {
    return whereVisible(
      this.attempts
        .createQueryBuilder('a')
        .innerJoin(WebhookDelivery, 'd', 'd.id = a.delivery_id')
        .where('d.endpoint_id = :endpointId AND a.started_at >= :since', {
          endpointId,
          since: since.toISOString(),
        }),
      scope,
    );
  }

  /** The delivery with its attempts; null when there is none, or it is outside `scope`. */
  async findOne(id: string, scope: ProjectScope): Promise<DeliveryWithAttempts | null> {
    const delivery = await this.deliveries.findOneBy({ id });
    if (!delivery || !inScope(scope, delivery.projectId)) return null;
    return (await this.withAttempts([delivery]))[0];
  }

  /** The step's deliveries within `scope`: none for another project's step, as for no step. */
  async findForStep(stepId: string, scope: ProjectScope): Promise<DeliveryWithAttempts[]> {
    const builder = this.deliveries
      .createQueryBuilder('d')
      .where('d.step_id = :stepId', { stepId })
      .orderBy('d.created_at', 'ASC')
      .addOrderBy('d.id', 'ASC');
    return this.withAttempts(await whereVisible(builder, scope).getMany());
  }

  async list(
    query: PageQuery & { status?: DeliveryStatus; step_id?: string; endpoint_id?: string },
    scope: ProjectScope,
  ): Promise<WebhookDelivery[]> {
    const builder = this.deliveries.createQueryBuilder('d');
    if (query.endpoint_id)
      builder.andWhere('d.endpoint_id = :endpointId', { endpointId: query.endpoint_id });
    if (query.status) builder.andWhere('d.status = :status', { status: query.status });
    if (query.step_id) builder.andWhere('d.step_id = :stepId', { stepId: query.step_id });
    return (
      await applyCursorPage(builder, query, projectColumnCondition('d.project_id', scope))
    ).getMany();
  }

  private async withAttempts(deliveries: WebhookDelivery[]): Promise<DeliveryWithAttempts[]> {
    if (deliveries.length === 0) return [];
    const attempts = await this.attempts.find({
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

/** Limits a query over deliveries (alias `d`) to those within `scope`. */
function whereVisible<T extends SelectQueryBuilder<ObjectLiteral>>(
  builder: T,
  scope: ProjectScope,
): T {
  const visible = projectColumnCondition('d.project_id', scope);
  if (visible) builder.andWhere(visible.sql, visible.parameters);
  return builder;
}
